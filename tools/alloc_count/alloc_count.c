/* Counts heap allocations of a process, for load/alloc_bench.sh (docs/performance.md,
 * "Allocations per request"). Preloaded (LD_PRELOAD), it interposes malloc, calloc, realloc,
 * memalign, aligned_alloc and posix_memalign (C++ operator new ends in malloc) and adds one per
 * call to a 64-bit counter in the file STELLA_ALLOC_COUNT_FILE names, mapped shared, so a script
 * reads the running count with `od` at any moment without signalling the process.
 *
 *   cc -O2 -shared -fPIC -o alloc_count.so alloc_count.c
 *   STELLA_ALLOC_COUNT_FILE=/tmp/gw.count LD_PRELOAD=./alloc_count.so stella-gw serve ...
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

extern void* __libc_malloc(size_t);
extern void* __libc_calloc(size_t, size_t);
extern void* __libc_realloc(void*, size_t);
extern void* __libc_memalign(size_t, size_t);

static uint64_t fallback;
static uint64_t* counter = &fallback;

__attribute__((constructor)) static void alloc_count_init(void) {
  const char* path = getenv("STELLA_ALLOC_COUNT_FILE");
  if (!path) return;
  const int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return;
  if (ftruncate(fd, sizeof(uint64_t)) == 0) {
    void* p = mmap(NULL, sizeof(uint64_t), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p != MAP_FAILED) {
      *(uint64_t*)p = __atomic_load_n(&fallback, __ATOMIC_RELAXED);
      counter = (uint64_t*)p;
    }
  }
  close(fd);
}

static void count(void) {
  __atomic_fetch_add(counter, 1, __ATOMIC_RELAXED);
}

void* malloc(size_t n) {
  count();
  return __libc_malloc(n);
}
void* calloc(size_t n, size_t m) {
  count();
  return __libc_calloc(n, m);
}
void* realloc(void* p, size_t n) {
  count();
  return __libc_realloc(p, n);
}
void* memalign(size_t a, size_t n) {
  count();
  return __libc_memalign(a, n);
}
void* aligned_alloc(size_t a, size_t n) {
  count();
  return __libc_memalign(a, n);
}
int posix_memalign(void** out, size_t a, size_t n) {
  count();
  void* p = __libc_memalign(a, n);
  if (!p) return 12; /* ENOMEM */
  *out = p;
  return 0;
}
