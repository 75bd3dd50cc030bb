$speedups << EOD
# causal=0
4096 1.0748 1.0748
8192 1.0533 1.0533
16384 1.0397 1.0397


# causal=1
4096 1.0999 1.0999
8192 1.0639 1.0639
16384 1.0394 1.0394


EOD
set terminal pngcairo size 900,560
set output 'attention_fwd.png'
set termoption noenhanced
set title 'attention_fwd with RoPE: speedup over unfused (NVIDIA H100 80GB HBM3)'
set logscale x 2
set xlabel 'sequence length'
set ylabel 'speedup vs unfused'
set key left bottom
set grid
plot for [c=0:1] $speedups index c using 1:2 with linespoints title sprintf('fused, causal=%d', c), \
     for [c=0:1] $speedups index c using 1:3 with linespoints dashtype 2 title sprintf('tuned dispatch, causal=%d', c), \
     1.0 with lines lc rgb 'black' notitle
