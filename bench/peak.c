// Native probe of this machine's physical limits, so benchmark figures can be read as a fraction of the hardware:
// the f32 FMA peak (GFLOP/s) and the memcpy bandwidth (GB/s, bytes read + written).
// Build: cc -O2 -march=native -ffp-contract=fast -pthread peak.c -o peak.  Run: peak <threads> <seconds-per-measure>
// Prints one line of JSON. Each figure is the best of 3 runs of seconds/3 each.
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

// The widest vector the compiler may use, chosen from its predefined macros (-march=native sets them).
#if defined(__AVX512F__)
#define ISA "avx512"
#define VB 64
#elif defined(__AVX2__) || defined(__FMA__)
#define ISA "avx2"
#define VB 32
#elif defined(__ARM_NEON)
#define ISA "neon"
#define VB 16
#elif defined(__SSE__)
#define ISA "sse"
#define VB 16
#else
#define ISA "generic"
#define VB 16
#endif

typedef float vwide __attribute__((vector_size(VB)));
typedef float v256 __attribute__((vector_size(32)));

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

// Inputs read from volatiles so the compiler cannot constant-fold the FMA chains; results summed into a sink.
static volatile float mul_in = 0.999999f, add_in = 1e-6f, sink;
static int nthreads;
static double secs;
static pthread_barrier_t barrier;

// Independent accumulators hide the FMA latency (4 cycles x 2 pipes needs >= 8). AVX-512 has 32 registers,
// so 16 accumulators fit; the 16-register ISAs get 12, leaving room for the multiplier and the addend.
#define REP12(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#if VB == 64
#define REPW(X) REP12(X) X(12) X(13) X(14) X(15)
#define NACCW 16
#else
#define REPW(X) REP12(X)
#define NACCW 12
#endif
#define DECL(i) __typeof__(z) acc##i = z + (float)(i);
#define STEP(i) acc##i = acc##i * m + a;
#define SUM(i) s += acc##i;

// Runs acc = acc * m + a (one vfmadd per accumulator) in batches until `secs` have passed; returns FLOPs done.
#define FMA_KERNEL(NAME, T, REP, NACC)                                                  \
  static double NAME(double secs) {                                                     \
    T z = {0}, m = z + mul_in, a = z + add_in, s = z;                                   \
    REP(DECL)                                                                           \
    long iters = 0;                                                                     \
    double t0 = now();                                                                  \
    do {                                                                                \
      for (int n = 0; n < 4096; n++) { REP(STEP) }                                      \
      iters += 4096;                                                                    \
    } while (now() - t0 < secs);                                                        \
    REP(SUM)                                                                            \
    for (unsigned i = 0; i < sizeof(T) / 4; i++) sink += s[i];                          \
    return (double)iters * NACC * (sizeof(T) / 4) * 2;                                  \
  }
FMA_KERNEL(fma_wide, vwide, REPW, NACCW)
FMA_KERNEL(fma_256, v256, REP12, 12)

// Per-thread copy buffers: each thread copies its own source into its own destination.
static char **src, **dst;
static size_t copy_bytes;

static double copy_job(int tid, double secs) {
  double t0 = now(), done = 0;
  do {  // at least one copy, then more until the time is up
    memcpy(dst[tid], src[tid], copy_bytes);
    done += 2.0 * copy_bytes;
  } while (now() - t0 < secs);
  return done;
}

enum job { FMA_WIDE, FMA_256, COPY };
struct worker { pthread_t th; int tid; enum job job; double work, t0, t1; };

static void *run_worker(void *p) {
  struct worker *w = p;
  pthread_barrier_wait(&barrier);  // all threads start together
  w->t0 = now();
  double s = secs / 3;
  w->work = w->job == FMA_WIDE ? fma_wide(s) : w->job == FMA_256 ? fma_256(s) : copy_job(w->tid, s);
  w->t1 = now();
  return NULL;
}

// Best of 3: total work of `t` threads over the wall time from the first start to the last finish, in G/s.
static double measure(int t, enum job job) {
  struct worker w[t];
  double best = 0;
  for (int rep = 0; rep < 3; rep++) {
    pthread_barrier_init(&barrier, NULL, t);
    for (int i = 0; i < t; i++) {
      w[i] = (struct worker){.tid = i, .job = job};
      if (pthread_create(&w[i].th, NULL, run_worker, &w[i])) { fprintf(stderr, "pthread_create failed\n"); exit(1); }
    }
    double work = 0, t0 = 1e300, t1 = 0;
    for (int i = 0; i < t; i++) {
      pthread_join(w[i].th, NULL);
      work += w[i].work;
      if (w[i].t0 < t0) t0 = w[i].t0;
      if (w[i].t1 > t1) t1 = w[i].t1;
    }
    pthread_barrier_destroy(&barrier);
    if (work / (t1 - t0) > best) best = work / (t1 - t0);
  }
  return best * 1e-9;
}

int main(int argc, char **argv) {
  if (argc != 3 || (nthreads = atoi(argv[1])) < 1 || (secs = atof(argv[2])) <= 0) {
    return fprintf(stderr, "usage: peak <threads> <seconds-per-measure>\n"), 2;
  }
  double fw = measure(nthreads, FMA_WIDE);
  double f256 = VB == 64 ? measure(nthreads, FMA_256) : fw;  // llvmpipe's ceiling: it compiles for 256-bit vectors
  // Wider vectors never lose to 256-bit ones (on Zen 4 they tie): a 256-bit figure above the widest is load noise.
  if (f256 > fw) fw = f256;
  double f1 = measure(1, FMA_WIDE);

  // 128 MiB per buffer, halved until every thread's pair fits; pages touched so first-touch faults are not timed.
  src = calloc(nthreads, sizeof *src), dst = calloc(nthreads, sizeof *dst);
  for (copy_bytes = (size_t)128 << 20; copy_bytes >= (1 << 20); copy_bytes /= 2) {
    int ok = 1;
    for (int i = 0; i < nthreads; i++) {
      src[i] = malloc(copy_bytes), dst[i] = malloc(copy_bytes);
      if (!src[i] || !dst[i]) ok = 0;
    }
    if (ok) break;
    for (int i = 0; i < nthreads; i++) free(src[i]), free(dst[i]);
  }
  if (copy_bytes < (1 << 20)) { fprintf(stderr, "cannot allocate copy buffers\n"); return 1; }
  for (int i = 0; i < nthreads; i++) memset(src[i], i + 1, copy_bytes), memset(dst[i], 0, copy_bytes);
  double cT = measure(nthreads, COPY), c1 = measure(1, COPY);

  printf("{\"isa\":\"%s\",\"vectorBits\":%d,\"threads\":%d,\"fmaGflops\":%.2f,\"fmaGflops256\":%.2f,"
         "\"fmaGflops1\":%.2f,\"copyGBs\":%.2f,\"copyGBs1\":%.2f}\n",
         ISA, VB * 8, nthreads, fw, f256, f1, cT, c1);
  return 0;
}
