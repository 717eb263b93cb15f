/* bench/tools.c - the floors `make bench` compares vodup with, measured on this machine.
 * Built by bench/run into $BUILD/bench-tools (cc ... -lisal -lcrypto -lpthread); not part of
 * the product, so it lives outside CMake.
 *
 *   bench-tools hash MIB            MD5 (OpenSSL) and CRC-64 (ISA-L crc64_ecma_refl, the OSS
 *                                   x-oss-hash-crc64ecma) throughput over MIB MiB in memory:
 *                                   prints {"md5_mbs":..,"crc64_mbs":..} (MB = 10^6 bytes)
 *   bench-tools ceiling DIR N W     W threads write N files of 64 KiB into DIR, each
 *                                   write + fdatasync + rename (the durable small-file
 *                                   ceiling of DIR's file system): prints {"files_per_s":..}
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <isa-l/crc64.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SMALL_FILE (64 * 1024)

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
/* Hashing is timed in this thread's CPU time: on a shared, loaded machine wall time would
 * count the time other processes held the core. The ceiling is about the disk: wall time. */
static double cpu_now(void) { return clock_s(CLOCK_THREAD_CPUTIME_ID); }
static double now(void) { return clock_s(CLOCK_MONOTONIC); }

static int parse_count(const char *s, unsigned long *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || v == 0 || s[0] == '-')
        return -1;
    *out = v;
    return 0;
}

static int cmd_hash(unsigned long mib)
{
    size_t chunk = 1 << 20;
    unsigned char *buf = malloc(chunk);
    if (!buf)
        return 1;
    for (size_t i = 0; i < chunk; i++)
        buf[i] = (unsigned char)(i * 2654435761u >> 13);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen;
    double t0 = cpu_now();
    EVP_DigestInit_ex(ctx, EVP_md5(), NULL);
    for (unsigned long i = 0; i < mib; i++)
        EVP_DigestUpdate(ctx, buf, chunk);
    EVP_DigestFinal_ex(ctx, md, &mdlen);
    double t_md5 = cpu_now() - t0;
    uint64_t crc = 0;
    t0 = cpu_now();
    for (unsigned long i = 0; i < mib; i++)
        crc = crc64_ecma_refl(crc, buf, chunk);
    double t_crc = cpu_now() - t0;
    double bytes = (double)mib * (double)chunk;
    printf("{\"md5_mbs\":%.1f,\"crc64_mbs\":%.1f,\"md5_first\":%u,\"crc\":\"%016llx\"}\n", bytes / t_md5 / 1e6,
           bytes / t_crc / 1e6, md[0], (unsigned long long)crc);
    EVP_MD_CTX_free(ctx);
    free(buf);
    return 0;
}

struct writer {
    const char *dir;
    unsigned long first, count;
    int failed;
};

static void *write_files(void *u)
{
    struct writer *w = u;
    static const unsigned char zero[SMALL_FILE];
    char tmp[4096], dst[4096];
    for (unsigned long i = w->first; i < w->first + w->count; i++) {
        snprintf(tmp, sizeof tmp, "%s/.tmp-%lu", w->dir, i);
        snprintf(dst, sizeof dst, "%s/f-%lu", w->dir, i);
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0 || write(fd, zero, sizeof zero) != (ssize_t)sizeof zero || fdatasync(fd) != 0 ||
            close(fd) != 0 || rename(tmp, dst) != 0) {
            w->failed = 1;
            return NULL;
        }
    }
    return NULL;
}

static int cmd_ceiling(const char *dir, unsigned long n, unsigned long nw)
{
    if (nw > 256)
        return 2;
    pthread_t th[256];
    struct writer w[256];
    double t0 = now();
    for (unsigned long i = 0; i < nw; i++) {
        w[i] = (struct writer){ dir, i * (n / nw), n / nw + (i + 1 == nw ? n % nw : 0), 0 };
        if (pthread_create(&th[i], NULL, write_files, &w[i]) != 0)
            return 1;
    }
    int failed = 0;
    for (unsigned long i = 0; i < nw; i++) {
        pthread_join(th[i], NULL);
        failed |= w[i].failed;
    }
    /* The renames are durable once the directory is: one fsync, as a server would group. */
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    if (dfd < 0 || fsync(dfd) != 0)
        failed = 1;
    if (dfd >= 0)
        close(dfd);
    double t = now() - t0;
    printf("{\"files_per_s\":%.1f,\"seconds\":%.3f,\"failed\":%d}\n", (double)n / t, t, failed);
    return failed;
}

int main(int argc, char **argv)
{
    unsigned long a, b;
    if (argc == 3 && strcmp(argv[1], "hash") == 0 && parse_count(argv[2], &a) == 0)
        return cmd_hash(a);
    if (argc == 5 && strcmp(argv[1], "ceiling") == 0 && parse_count(argv[3], &a) == 0 &&
        parse_count(argv[4], &b) == 0)
        return cmd_ceiling(argv[2], a, b);
    fprintf(stderr, "usage: bench-tools hash MIB | ceiling DIR N WRITERS\n");
    return 2;
}
