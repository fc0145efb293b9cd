/* allgather_bench.c: the time of one MPI_Allgather of COUNT floats per
 * rank, alone (no training beside it), best and median of 50 after a
 * barrier each; for bench/mpi_speed.sh, built there with mpicc.
 *   mpirun -np N allgather_bench COUNT */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size, count = argc > 1 ? atoi(argv[1]) : 1000, runs = 50;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    float *mine = calloc(count, sizeof(float)), *all = calloc((size_t)count * size, sizeof(float));
    double t[50];
    for (int i = 0; i < runs; ++i) {
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = MPI_Wtime();
        MPI_Allgather(mine, count, MPI_FLOAT, all, count, MPI_FLOAT, MPI_COMM_WORLD);
        t[i] = MPI_Wtime() - t0;
    }
    qsort(t, runs, sizeof t[0], by_value);
    if (rank == 0) printf("allgather_floats=%d best_s=%.6f median_s=%.6f\n", count, t[0], t[runs / 2]);
    free(mine);
    free(all);
    MPI_Finalize();
    return 0;
}
