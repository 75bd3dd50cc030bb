$speedups << EOD
# causal=0
512 1.3370 1.3197
1024 1.0386 1.0250
2048 1.0043 0.9926
4096 1.0013 1.0006
8192 0.9980 1.0000
16384 0.9964 0.9950


# causal=1
512 0.9940 0.9762
1024 1.0399 1.0260
2048 0.9987 0.9900
4096 1.2970 1.2799
8192 1.0031 1.0020
16384 0.9967 0.9981


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
