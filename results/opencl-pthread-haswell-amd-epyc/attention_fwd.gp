$speedups << EOD
# causal=0
512 1.0465 1.0445
1024 1.0140 1.0226
2048 1.0774 1.1573
4096 1.0553 1.0715


# causal=1
512 0.9678 0.9385
1024 1.0313 1.0259
2048 0.9949 1.0693
4096 0.9711 0.9515


EOD
set terminal pngcairo size 900,560
set output 'attention_fwd.png'
set termoption noenhanced
set title 'attention_fwd with RoPE: speedup over unfused (pthread-haswell-AMD EPYC)'
set logscale x 2
set xlabel 'sequence length'
set ylabel 'speedup vs unfused'
set key left bottom
set grid
plot for [c=0:1] $speedups index c using 1:2 with linespoints title sprintf('fused, causal=%d', c), \
     for [c=0:1] $speedups index c using 1:3 with linespoints dashtype 2 title sprintf('tuned dispatch, causal=%d', c), \
     1.0 with lines lc rgb 'black' notitle
