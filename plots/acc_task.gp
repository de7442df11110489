# acc_task.gp — accuracy per task per model with 95% CI whiskers (grouped bars).
# gnuplot -c acc_task.gp NMODELS OUTBASE NTASKS, run in the report folder. Reads acc_task.dat: one
# block per model (blocks apart by two blank lines; first line the quoted model name), rows
# `task_index accuracy_pct ci_lo_pct ci_hi_pct`; and tasks.dat: `task_index "task"`.
n = int(ARG1); ntasks = int(ARG3)
w = 0.8 / n
set terminal svg size 900,500 dynamic noenhanced font "sans,11" background "white"
set output ARG2.".svg"
set title "Accuracy per task (95% CI)"
set ylabel "accuracy (%)"
set yrange [0:105]
set xrange [-0.6:ntasks-0.4]
set style fill solid 0.6 border -1
set grid ytics
set key outside right top noenhanced
set xtics noenhanced rotate by -30
off(i) = (i - (n - 1) / 2.0) * w
plot "tasks.dat" using 1:(-10):xticlabels(2) with points notitle, \
     for [i=0:n-1] "acc_task.dat" index i using ($1 + off(i)):2:3:4:(w) with boxerrorbars linecolor (i+1) title columnheader(1)
if (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) {
    set terminal pngcairo size 900,500 noenhanced font "sans,10" background "white"
    set output ARG2.".png"
    replot
}
