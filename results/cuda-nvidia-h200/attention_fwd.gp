$speedups << EOD
# causal=0
512 0.9294 0.8640
1024 0.9879 0.8494
2048 0.7786 0.9273
4096 0.8645 0.9554
8192 0.8788 0.9783
16384 0.8962 0.9969
32768 0.7285 0.9996
65536 0.9961 1.0007
131072 1.0007 1.0006


# causal=1
512 1.0040 0.8509
1024 0.8807 0.8439
2048 0.9121 0.8904
4096 0.9449 0.9523
8192 0.9710 0.9800
16384 0.9522 1.0060
32768 1.0030 1.0002
65536 0.9974 1.0000
131072 1.0001 0.9999


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
