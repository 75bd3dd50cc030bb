$speedups << EOD
# causal=0
512 0.7791 1.0000
1024 0.9292 1.0000
2048 0.8459 1.0000
4096 0.8871 1.0000
8192 0.9348 1.0000
16384 0.9692 1.0000
32768 1.0066 1.0066
65536 1.0112 1.0112
131072 1.0078 1.0078


# causal=1
512 0.7841 1.0000
1024 0.9479 1.0000
2048 0.9411 1.0000
4096 0.9540 1.0000
8192 0.9738 1.0000
16384 0.9836 1.0000
32768 1.0039 1.0039
65536 1.0307 1.0307
131072 1.0174 1.0174


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
