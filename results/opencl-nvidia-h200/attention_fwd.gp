$speedups << EOD
# causal=0
512 1.1623 1.0000
1024 0.9850 1.0000
2048 0.8898 1.0000
4096 0.9097 1.0000
8192 0.9236 1.0000
16384 0.9426 1.0000
32768 0.9545 1.0000
65536 0.9577 1.0000
131072 0.9604 1.0000


# causal=1
512 1.2283 1.2283
1024 0.9983 1.0000
2048 0.9458 1.0000
4096 0.9790 1.0000
8192 0.9933 1.0000
16384 1.0019 1.0019
32768 1.0041 1.0000
65536 0.9641 1.0000
131072 0.9743 1.0000


EOD
set terminal pngcairo size 900,560
set output 'attention_fwd.png'
set termoption noenhanced
set title 'attention_fwd with RoPE: speedup over unfused (NVIDIA H200)'
set logscale x 2
set xlabel 'sequence length'
set ylabel 'speedup vs unfused'
set key left bottom
set grid
plot for [c=0:1] $speedups index c using 1:2 with linespoints title sprintf('fused, causal=%d', c), \
     for [c=0:1] $speedups index c using 1:3 with linespoints dashtype 2 title sprintf('tuned dispatch, causal=%d', c), \
     1.0 with lines lc rgb 'black' notitle
