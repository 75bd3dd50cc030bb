$speedups << EOD
# causal=0
512 1.0192 0.9873
1024 1.0552 1.0486
2048 0.9874 0.9937
4096 0.9621 0.9985
8192 0.9393 1.0018
16384 0.9493 1.0018
32768 0.9658 0.9950
65536 0.9829 0.9759
131072 0.9905 0.9955


# causal=1
512 1.0312 0.9546
1024 1.0487 1.0407
2048 1.1104 1.1081
4096 1.0251 1.0180
8192 0.9872 0.9937
16384 0.9368 0.9975
32768 0.9119 0.9999
65536 0.9632 0.9983
131072 1.0076 1.0197


EOD
set terminal pngcairo size 900,560
set output 'attention_fwd_hd64.png'
set termoption noenhanced
set title 'attention_fwd_hd64 with RoPE: speedup over unfused (NVIDIA H200)'
set logscale x 2
set xlabel 'sequence length'
set ylabel 'speedup vs unfused'
set key left bottom
set grid
plot for [c=0:1] $speedups index c using 1:2 with linespoints title sprintf('fused, causal=%d', c), \
     for [c=0:1] $speedups index c using 1:3 with linespoints dashtype 2 title sprintf('tuned dispatch, causal=%d', c), \
     1.0 with lines lc rgb 'black' notitle
