$speedups << EOD
# causal=0
512 0.5739 1.0841
1024 0.4980 1.0132
2048 0.4770 1.0390


# causal=1
512 0.4078 1.0517
1024 0.4169 1.0218
2048 0.4728 1.0000


EOD
set terminal pngcairo size 900,560
set output 'attention_bwd.png'
set termoption noenhanced
set title 'attention_bwd with RoPE: speedup over unfused (pthread-skylake-avx512-Intel(R) Xeon(R) Processor)'
set logscale x 2
set xlabel 'sequence length'
set ylabel 'speedup vs unfused'
set key left bottom
set grid
plot for [c=0:1] $speedups index c using 1:2 with linespoints title sprintf('fused, causal=%d', c), \
     for [c=0:1] $speedups index c using 1:3 with linespoints dashtype 2 title sprintf('tuned dispatch, causal=%d', c), \
     1.0 with lines lc rgb 'black' notitle
