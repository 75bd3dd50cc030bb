$speedups << EOD
# causal=0
512 1.0413 1.0399
1024 1.0221 1.0221
2048 1.0139 1.0139
4096 1.0006 1.0000


# causal=1
512 1.0697 1.0697
1024 1.0203 1.0112
2048 1.0133 1.0099
4096 1.0091 1.0091


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
