$speedups << EOD
# causal=0
512 1.0148 1.0097
1024 0.9537 1.0143
2048 1.0147 0.9934
4096 1.0578 0.9890


# causal=1
512 1.0372 0.9813
1024 1.0264 0.9522
2048 0.8665 1.0419
4096 0.9805 0.9684


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
