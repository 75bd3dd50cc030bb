$speedups << EOD
# causal=0
512 0.7752 1.0000
1024 0.9754 1.0000
2048 0.9114 1.0000
4096 0.9354 1.0000
8192 0.9539 1.0000
16384 0.9638 1.0000
32768 0.9330 1.0000
65536 0.9808 1.0000
131072 0.9593 1.0000


# causal=1
512 0.7901 1.0000
1024 0.9907 1.0000
2048 0.9946 1.0000
4096 1.0447 1.0447
8192 1.0576 1.0576
16384 1.0679 1.0679
32768 0.9989 1.0000
65536 1.0067 1.0067
131072 1.0250 1.0250


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
