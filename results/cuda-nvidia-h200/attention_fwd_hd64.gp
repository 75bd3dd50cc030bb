$speedups << EOD
# causal=0
512 1.0634 1.0533
1024 1.0739 1.0645
2048 1.0287 1.0217
4096 0.9831 0.9989
8192 0.9459 1.0025
16384 0.9691 0.9993
32768 0.9740 1.0003
65536 0.9893 0.9886
131072 1.0140 1.0137


# causal=1
512 1.0434 1.0415
1024 1.0808 1.0679
2048 1.1080 1.1055
4096 1.0859 1.0778
8192 1.0372 1.0268
16384 0.9829 1.0017
32768 0.9662 1.0000
65536 0.9690 0.9840
131072 1.0050 1.0216


EOD
set terminal pngcairo size 900,560
set output 'attention_fwd_hd64.png'
set termoption noenhanced
set title 'attention_fwd_hd64 with RoPE: speedup over unfused (NVIDIA H200)'
set logscale x 2
set xlabel 'sequence length'
set ylabel 'speedup vs unfused'
set key left bottom
set grid
plot for [c=0:1] $speedups index c using 1:2 with linespoints title sprintf('fused, causal=%d', c), \
     for [c=0:1] $speedups index c using 1:3 with linespoints dashtype 2 title sprintf('tuned dispatch, causal=%d', c), \
     1.0 with lines lc rgb 'black' notitle
