/*
 * slowfsync: makes every fsync() and fdatasync() of a process wait SLOW_FSYNC_US microseconds
 * (default 450) after the real call, to see how Kassa does on a disk whose flush is slower than
 * this machine's. For benchmark what-if runs only (docs/performance.md):
 *
 *   gcc -shared -fPIC -O2 -o slowfsync.so tools/slowfsync.c -ldl
 *   SLOW_FSYNC_US=450 LD_PRELOAD=$PWD/slowfsync.so ./target/release/kassa-bench ...
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <time.h>
static void pause_us(void) {
    const char *v = getenv("SLOW_FSYNC_US");
    long us = v ? atol(v) : 450;
    struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };
    nanosleep(&ts, NULL);
}
int fsync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    int r = real(fd);
    pause_us();
    return r;
}
int fdatasync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    int r = real(fd);
    pause_us();
    return r;
}
