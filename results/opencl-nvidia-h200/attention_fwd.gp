$speedups << EOD
# causal=0
512 1.0808 1.0815
1024 1.1208 1.1180
2048 1.0571 1.0567
4096 1.0423 1.0441
8192 1.0344 1.0344
16384 1.0233 1.0151


# causal=1
512 1.0644 1.0840
1024 1.1220 1.1206
2048 1.0520 1.0638
4096 1.0703 1.0663
8192 1.0519 1.0491
16384 1.0128 1.0000


EOD
set terminal pngcairo size 900,560
set output 'attention_fwd.png'
set termoption noenhanced
set title 'attention_fwd with RoPE: speedup over unfused (NVIDIA H200)'
set logscale x 2
set xlabel 'sequence length'
set ylabel 'speedup vs unfused'
set key left bottom
set grid
plot for [c=0:1] $speedups index c using 1:2 with linespoints title sprintf('fused, causal=%d', c), \
     for [c=0:1] $speedups index c using 1:3 with linespoints dashtype 2 title sprintf('tuned dispatch, causal=%d', c), \
     1.0 with lines lc rgb 'black' notitle
