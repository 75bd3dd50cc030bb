$speedups << EOD
# causal=0
512 1.1359 1.1359
1024 0.9888 0.9888
2048 0.9680 0.9620
4096 1.0106 1.0106


# causal=1
512 1.0333 1.0333
1024 1.1068 1.1068
2048 1.0485 1.0485
4096 1.0641 1.0641


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
