$speedups << EOD
# causal=0
512 1.4812 1.4019
1024 1.1817 1.1817
2048 1.0376 1.0376
4096 0.9679 1.0000
8192 0.9638 1.0000
16384 0.9693 1.0000
32768 0.9695 1.0000
65536 0.9765 1.0000
131072 0.9954 1.0000


# causal=1
512 1.3629 1.1935
1024 1.1552 1.1552
2048 1.0940 1.0940
4096 1.0540 1.0540
8192 0.9658 1.0000
16384 0.9700 1.0000
32768 0.9710 1.0000
65536 0.9781 1.0000
131072 1.0075 1.0000


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
