$speedups << EOD
# causal=0
512 1.0163 1.0099
1024 1.0108 1.0010
2048 0.9924 0.9924
4096 1.0122 1.0122


# causal=1
512 1.0478 1.0478
1024 1.0262 1.0262
2048 0.9991 1.0000
4096 1.0072 1.0072


EOD
set terminal pngcairo size 900,560
set output 'attention_fwd.png'
set termoption noenhanced
set title 'attention_fwd with RoPE: speedup over unfused (pthread-skylake-avx512-Intel(R) Xeon(R) Processor)'
set logscale x 2
set xlabel 'sequence length'
set ylabel 'speedup vs unfused'
set key left bottom
set grid
plot for [c=0:1] $speedups index c using 1:2 with linespoints title sprintf('fused, causal=%d', c), \
     for [c=0:1] $speedups index c using 1:3 with linespoints dashtype 2 title sprintf('tuned dispatch, causal=%d', c), \
     1.0 with lines lc rgb 'black' notitle
