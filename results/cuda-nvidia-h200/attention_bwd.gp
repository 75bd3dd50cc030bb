$speedups << EOD
# causal=0
512 0.9456 1.1673
1024 1.0083 1.1581
2048 0.8443 1.0744
4096 0.7539 1.0358
8192 0.7045 1.0101
16384 0.6802 1.0000
32768 0.6685 1.0000
65536 0.6626 1.0000
131072 0.6596 1.0000


# causal=1
512 0.8885 1.1876
1024 1.0312 1.1620
2048 0.8629 1.0870
4096 0.7979 1.0589
8192 0.7387 1.0299
16384 0.7034 1.0127
32768 0.6796 1.0000
65536 0.6681 1.0000
131072 0.6620 1.0000


EOD
set terminal pngcairo size 900,560
set output 'attention_bwd.png'
set termoption noenhanced
set title 'attention_bwd with RoPE: speedup over unfused (NVIDIA H200)'
set logscale x 2
set xlabel 'sequence length'
set ylabel 'speedup vs unfused'
set key left bottom
set grid
plot for [c=0:1] $speedups index c using 1:2 with linespoints title sprintf('fused, causal=%d', c), \
     for [c=0:1] $speedups index c using 1:3 with linespoints dashtype 2 title sprintf('tuned dispatch, causal=%d', c), \
     1.0 with lines lc rgb 'black' notitle
