$speedups << EOD
# causal=0
512 0.7775 0.9936
1024 0.9146 0.9972
2048 0.9044 0.9966
4096 0.9026 0.9978
8192 0.9209 0.9995
16384 0.9598 0.9989
32768 0.9895 0.9849
65536 1.0058 1.0014
131072 1.0077 1.0094


# causal=1
512 0.7838 0.9951
1024 0.9479 0.9989
2048 0.9295 1.0018
4096 0.9530 0.9980
8192 0.9836 0.9993
16384 0.9468 0.9987
32768 0.9237 0.9988
65536 1.0051 0.9941
131072 1.0218 1.0162


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
