$speedups << EOD
# causal=0
512 1.0623 1.0623
1024 1.0309 1.0309
2048 1.0462 1.0000
4096 0.9983 0.9983


# causal=1
512 1.0969 1.0969
1024 1.1301 1.1301
2048 1.0824 1.0824
4096 1.0358 1.0358


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
