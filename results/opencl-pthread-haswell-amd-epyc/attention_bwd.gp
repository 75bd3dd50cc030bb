$speedups << EOD
# causal=0
512 0.6315 1.0186
1024 0.7888 0.9962


# causal=1
512 0.6544 0.9380
1024 0.8455 1.0286


EOD
set terminal pngcairo size 900,560
set output 'attention_bwd.png'
set termoption noenhanced
set title 'attention_bwd with RoPE: speedup over unfused (pthread-haswell-AMD EPYC)'
set logscale x 2
set xlabel 'sequence length'
set ylabel 'speedup vs unfused'
set key left bottom
set grid
plot for [c=0:1] $speedups index c using 1:2 with linespoints title sprintf('fused, causal=%d', c), \
     for [c=0:1] $speedups index c using 1:3 with linespoints dashtype 2 title sprintf('tuned dispatch, causal=%d', c), \
     1.0 with lines lc rgb 'black' notitle
