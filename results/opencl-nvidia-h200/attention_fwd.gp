$speedups << EOD
# causal=0
512 1.1587 1.1705
1024 1.0975 1.0970
2048 0.9113 0.9999
4096 0.9028 1.0028
8192 0.9047 0.9993
16384 0.9067 1.0016
32768 0.9988 0.9984
65536 0.9982 0.9983
131072 0.9982 0.9982


# causal=1
512 1.1628 1.1582
1024 1.0526 1.0603
2048 0.8931 0.9965
4096 0.9244 1.0040
8192 0.9096 1.0016
16384 0.9605 1.0086
32768 0.9997 0.9989
65536 0.9984 0.9993
131072 0.9943 1.0004


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
