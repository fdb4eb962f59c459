#include "cdnnl_kernels.h"
#include "kernels_private.h"

/* One thread's contiguous part, in whole 64-byte lines. */
static void part(void *data) {
    const cdnnl_clip_backward_problem *p = data;
    const long threads = omp_get_num_threads(), me = omp_get_thread_num();
    const long lines = (p->count + 15) / 16;
    const long begin = 16 * (lines * me / threads);
    long end = 16 * (lines * (me + 1) / threads);
    if (end > p->count) end = p->count;
    const float *y = p->y, *dy = p->dy;
    float *dx = p->dx;
    const float low = p->low, high = p->high;
    for (long i = begin; i < end; i++) dx[i] = dy[i] * ((low < y[i] && y[i] < high) ? 1.0f : 0.0f);
}

void cdnnl_clip_backward(const cdnnl_clip_backward_problem *problem) {
    GOMP_parallel(part, (void *)problem, 0, 0);
}
