/* Kill -9 test of the file-backed device (make kill9 ROUNDS=<n> SEED=<s>).
 *
 * A real process writes to a real file: a child opens a device on a file
 * (port/posix/ne_file_flash), attaches two streams and writes to both
 * (appends of random sizes, deletions, purges, compactions), and after each
 * ne_store_dev_sync that returns NE_OK it reports on a pipe what that sync
 * made durable. The parent reads those reports for a random while, kills
 * the child with SIGKILL (by its pid) in the middle of whatever it was
 * doing, reopens the device from the file and checks:
 *
 *   - every message reported durable is there, byte-exact (its CRC is in
 *     the report);
 *   - every removal reported durable stays removed;
 *   - every message that comes back carries a valid CRC of its own bytes
 *     (never an altered record).
 *
 * Then the next child goes on with the same file. A kill keeps what the
 * process had written to the file (the page cache survives it): this tests
 * the store's own ordering across a crash at any point of its work, and
 * recovery from a file, not the disk's cache (the simulated write caches
 * of tests/powercut do that).
 *
 * The last line is
 *   kill9: rounds: N, acknowledged records lost: K, corrupt records returned: C
 * and the exit status is non-zero if K, C or any other check failed. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "codec/ne_crc32c.h"
#include "core/ne_error.h"
#include "posix/ne_file_flash.h"
#include "store/ne_store.h"
#include "store/ne_store_dev.h"

#define STREAMS 2
#define MAX_SEQ (1u << 16)
#define MAX_BODY 3000
#define KEEP_MSGS 120 /* the child deletes its oldest past this many per stream */

static const ne_flash_geometry geometry = {
    .program_bytes = 256, .erase_bytes = 32 * 1024, .block_count = 32};
static const char *const names[STREAMS] = {"K0", "K1"};

static ne_file_flash ff;
static ne_store_dev dev;
static ne_snappy_table table;
static ne_store stores[STREAMS];
static ne_store_subject subjects[STREAMS][16];
static uint8_t entry_buf[NE_STORE_MAX_CONFIG_BYTES + 320];
static uint8_t body[MAX_BODY + 8];
static uint8_t load_buf[MAX_BODY + 256];

static uint64_t rng;

static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static int open_device(const char *path)
{
    int rc = ne_file_flash_open(&ff, path, geometry);
    if (rc != NE_OK) {
        return rc;
    }
    rc = ne_store_dev_open(&dev, &ff.flash, &table);
    for (int k = 0; k < STREAMS && rc == NE_OK; k++) {
        ne_store_entry e;
        uint32_t id = 0;
        rc = ne_store_dev_find(&dev, NE_STORE_KIND_STREAM, 0, names[k], 2, &e, entry_buf,
                               sizeof(entry_buf));
        if (rc == NE_ERR_NOT_FOUND) {
            rc = ne_store_dev_create(&dev, NE_STORE_KIND_STREAM, 0, names[k], 2, NULL, 0, &id);
        } else {
            id = e.id;
        }
        if (rc == NE_OK) {
            ne_store_config cfg = {.subjects = subjects[k], .subject_capacity = 16};
            cfg.limits.discard = NE_STORE_DISCARD_NEW;
            rc = ne_store_attach(&stores[k], &dev, id, &cfg);
        }
    }
    return rc;
}

/* ---- The child: writes, syncs, reports ------------------------------------ */

/* Reports, one line each: "A k seq crc" appended, "D k seq" removed (one
 * message or everything below it with "P k seq"); "S" closes what one sync
 * made durable. Written with write(2) to the pipe, nothing buffered. */
static char report[65536];
static size_t report_len;

static void note(const char *fmt, unsigned k, uint64_t a, uint64_t b)
{
    int n = snprintf(report + report_len, sizeof(report) - report_len, fmt, k,
                     (unsigned long long)a, (unsigned long long)b);
    if (n > 0 && (size_t)n < sizeof(report) - report_len) {
        report_len += (size_t)n;
    }
}

static void flush_report(int fd)
{
    size_t off = 0;
    while (off < report_len) {
        ssize_t n = write(fd, report + off, report_len - off);
        if (n <= 0) {
            _exit(3);
        }
        off += (size_t)n;
    }
    report_len = 0;
}

/* A removal is announced before it is made (the parent then no longer
 * counts the message as lost if it is gone), and reported with the sync
 * that makes it durable. */
static void intent(int fd, char op, unsigned k, uint64_t seq)
{
    char line[64];
    int n = snprintf(line, sizeof(line), "%c %u %llu 0\n", op, k, (unsigned long long)seq);
    if (n <= 0 || write(fd, line, (size_t)n) != n) {
        _exit(3);
    }
}

static int child_step(unsigned k, int fd)
{
    ne_store *st = &stores[k];
    uint32_t dice = (uint32_t)(rnd() % 100);
    if (dice < 70 || st->state.msgs == 0) {
        size_t len = 8 + (size_t)(rnd() % (rnd() % 4 == 0 ? MAX_BODY : 300));
        for (size_t i = 4; i < len; i++) {
            body[i] = (uint8_t)(rnd() >> 24);
        }
        /* The first 4 bytes hold the CRC of the rest. */
        uint32_t crc = ne_crc32c(0, body + 4, len - 4);
        memcpy(body, &crc, 4);
        ne_store_msg m = {.subject = "m", .subject_len = 1, .payload = body, .payload_len = len};
        uint64_t seq = 0;
        int rc = ne_store_append(st, &m, &seq);
        if (rc == NE_OK) {
            note("A %u %llu %llu\n", k, seq, crc);
        }
        if (rc == NE_ERR_FULL) {
            return NE_OK;
        }
        if (rc != NE_OK || st->state.msgs <= KEEP_MSGS) {
            return rc;
        }
        uint64_t first = st->state.first_seq;
        intent(fd, 'd', k, first);
        rc = ne_store_delete(st, first);
        if (rc == NE_OK) {
            note("D %u %llu %llu\n", k, first, 0);
        }
        return rc;
    }
    if (dice < 90) {
        uint64_t span = st->state.last_seq - st->state.first_seq + 1;
        uint64_t seq = st->state.first_seq + rnd() % span;
        intent(fd, 'd', k, seq);
        int rc = ne_store_delete(st, seq);
        if (rc == NE_OK) {
            note("D %u %llu %llu\n", k, seq, 0);
        }
        return rc == NE_ERR_NOT_FOUND ? NE_OK : rc;
    }
    if (dice < 95) {
        uint64_t below = st->state.first_seq + rnd() % 8;
        intent(fd, 'p', k, below);
        int rc = ne_store_purge(st, &(ne_store_purge_req){.up_to_seq = below}, NULL);
        if (rc == NE_OK) {
            note("P %u %llu %llu\n", k, below, 0);
        }
        return rc;
    }
    return ne_store_compact(st, NULL);
}

static int child(const char *path, uint64_t seed, int fd)
{
    rng = seed | 1;
    int rc = open_device(path);
    if (rc != NE_OK) {
        fprintf(stderr, "kill9: child open failed: %s\n", ne_err_name(rc));
        return 2;
    }
    for (uint64_t i = 0;; i++) {
        rc = child_step((unsigned)(rnd() % STREAMS), fd);
        if (rc != NE_OK) {
            fprintf(stderr, "kill9: child step failed: %s\n", ne_err_name(rc));
            return 2;
        }
        if (rnd() % 6 == 0 || report_len > sizeof(report) - 256) {
            rc = ne_store_dev_sync(&dev);
            if (rc != NE_OK) {
                fprintf(stderr, "kill9: child sync failed: %s\n", ne_err_name(rc));
                return 2;
            }
            note("S %u %llu %llu\n", 0, 0, 0);
            flush_report(fd);
        }
    }
}

/* ---- The parent: the model, the kills, the checks --------------------------------- */

enum { M_NONE, M_DURABLE, M_MAYBE_REMOVED, M_REMOVED };

typedef struct model {
    uint8_t status[MAX_SEQ];
    uint32_t crc[MAX_SEQ];
} model;

static model models[STREAMS];
static uint64_t lost;
static uint64_t corrupt;
static uint64_t failures;

/* Bytes read from the pipe not yet a whole line, and the report lines
 * waiting for their "S". */
static char pending[65536 * 2];
static size_t pending_len;
static char stash[65536 * 2];
static size_t stash_len;

static void apply_line(const char *line)
{
    char op = 0;
    unsigned k = 0;
    unsigned long long a = 0;
    unsigned long long b = 0;
    if (sscanf(line, "%c %u %llu %llu", &op, &k, &a, &b) != 4 || k >= STREAMS || a >= MAX_SEQ) {
        failures++;
        return;
    }
    model *m = &models[k];
    switch (op) {
    case 'A':
        m->status[a] = M_DURABLE;
        m->crc[a] = (uint32_t)b;
        break;
    case 'd':
        if (m->status[a] == M_DURABLE) {
            m->status[a] = M_MAYBE_REMOVED;
        }
        break;
    case 'D':
        m->status[a] = M_REMOVED;
        break;
    case 'p':
    case 'P':
        for (uint64_t s = 1; s < a; s++) {
            if (m->status[s] == M_DURABLE || m->status[s] == M_MAYBE_REMOVED) {
                m->status[s] = op == 'P' ? M_REMOVED : M_MAYBE_REMOVED;
            }
        }
        break;
    default:
        failures++;
    }
}

/* Applies the whole lines read so far: an intent at once, a report's lines
 * when its "S" arrives. Returns how many "S" lines. */
static uint32_t consume(void)
{
    uint32_t syncs = 0;
    size_t start = 0;
    for (size_t i = 0; i < pending_len; i++) {
        if (pending[i] != '\n') {
            continue;
        }
        pending[i] = '\0';
        const char *line = &pending[start];
        if (line[0] == 'S') {
            for (size_t l = 0; l < stash_len;) {
                apply_line(&stash[l]);
                l += strlen(&stash[l]) + 1;
            }
            stash_len = 0;
            syncs++;
        } else if (line[0] == 'd' || line[0] == 'p') {
            apply_line(line);
        } else {
            size_t n = strlen(line) + 1;
            if (stash_len + n > sizeof(stash)) {
                failures++;
            } else {
                memcpy(stash + stash_len, line, n);
                stash_len += n;
            }
        }
        start = i + 1;
    }
    memmove(pending, pending + start, pending_len - start);
    pending_len -= start;
    return syncs;
}

static int verify(const char *path, uint32_t round)
{
    int rc = open_device(path);
    if (rc != NE_OK) {
        fprintf(stderr, "kill9: round %u: recovery failed: %s\n", round, ne_err_name(rc));
        failures++;
        return rc;
    }
    for (int k = 0; k < STREAMS; k++) {
        model *m = &models[k];
        static uint8_t seen[MAX_SEQ];
        memset(seen, 0, sizeof(seen));
        ne_store_reader reader;
        ne_store_reader_init(&reader);
        uint64_t from = 1;
        for (uint32_t guard = 0; guard < MAX_SEQ; guard++) {
            ne_store_msg msg;
            rc = ne_store_read_next(&stores[k], &reader, from, NULL, 0, &msg, load_buf,
                                    sizeof(load_buf));
            if (rc == NE_ERR_NOT_FOUND) {
                break;
            }
            if (rc != NE_OK || msg.seq >= MAX_SEQ) {
                fprintf(stderr, "kill9: round %u: reading %s failed: %s\n", round, names[k],
                        ne_err_name(rc));
                failures++;
                break;
            }
            from = msg.seq + 1;
            seen[msg.seq] = 1;
            uint32_t crc = 0;
            bool valid = msg.payload_len >= 8;
            if (valid) {
                memcpy(&crc, msg.payload, 4);
                valid = crc == ne_crc32c(0, msg.payload + 4, msg.payload_len - 4);
            }
            if (!valid || (m->status[msg.seq] == M_DURABLE && crc != m->crc[msg.seq])) {
                fprintf(stderr, "kill9: round %u: %s seq %llu altered\n", round, names[k],
                        (unsigned long long)msg.seq);
                corrupt++;
            } else if (m->status[msg.seq] == M_REMOVED) {
                fprintf(stderr, "kill9: round %u: %s seq %llu came back after its removal\n", round,
                        names[k], (unsigned long long)msg.seq);
                corrupt++;
            }
        }
        for (uint32_t s = 1; s < MAX_SEQ; s++) {
            if (m->status[s] == M_DURABLE && !seen[s]) {
                fprintf(stderr, "kill9: round %u: %s lost durable seq %u\n", round, names[k], s);
                lost++;
                m->status[s] = M_NONE;
            } else if (m->status[s] == M_MAYBE_REMOVED) {
                /* Its removal was not durable: there or gone, both right. */
                m->status[s] = seen[s] ? M_DURABLE : M_NONE;
            }
        }
        /* Sequences at or past the recovered end that were not durable may
         * be given again: forget them. */
        for (uint64_t s = stores[k].state.last_seq + 1; s < MAX_SEQ; s++) {
            m->status[s] = M_NONE;
        }
    }
    for (int k = 0; k < STREAMS; k++) {
        (void)ne_store_detach(&stores[k]);
    }
    ne_file_flash_close(&ff);
    return NE_OK;
}

int main(int argc, char **argv)
{
    uint32_t rounds = 10;
    uint64_t seed = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) {
            rounds = (uint32_t)strtoul(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
            seed = strtoull(argv[++i], NULL, 10);
        } else {
            fprintf(stderr, "usage: %s [--rounds N] [--seed S]\n", argv[0]);
            return 2;
        }
    }
    char dir[] = "/tmp/ne-kill9-XXXXXX";
    if (mkdtemp(dir) == NULL) {
        perror("kill9: mkdtemp");
        return 2;
    }
    char path[sizeof(dir) + 16];
    snprintf(path, sizeof(path), "%s/device", dir);
    rng = seed * 0x9e3779b97f4a7c15ull | 1;
    uint64_t syncs_seen = 0;
    uint32_t round = 0;
    for (; round < rounds && failures == 0; round++) {
        int fds[2];
        if (pipe(fds) != 0) {
            perror("kill9: pipe");
            return 2;
        }
        uint64_t child_seed = rnd();
        pid_t pid = fork();
        if (pid < 0) {
            perror("kill9: fork");
            return 2;
        }
        if (pid == 0) {
            close(fds[0]);
            _exit(child(path, child_seed, fds[1]));
        }
        close(fds[1]);
        /* Let it make a random number of syncs (or run for at most 3 s),
         * then kill it wherever it is. */
        uint32_t want = 1 + (uint32_t)(rnd() % 40);
        uint32_t got = 0;
        pending_len = 0;
        stash_len = 0;
        struct timespec t0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        bool child_died = false;
        while (got < want) {
            struct pollfd p = {.fd = fds[0], .events = POLLIN};
            int n = poll(&p, 1, 100);
            struct timespec t1;
            clock_gettime(CLOCK_MONOTONIC, &t1);
            if (t1.tv_sec - t0.tv_sec > 3) {
                break;
            }
            if (n <= 0) {
                continue;
            }
            ssize_t r = read(fds[0], pending + pending_len, sizeof(pending) - pending_len);
            if (r <= 0) {
                child_died = true;
                break;
            }
            pending_len += (size_t)r;
            got += consume();
        }
        /* A few more steps after the last report, then the kill lands
         * anywhere in the child's work. */
        usleep((useconds_t)(rnd() % 3000));
        kill(pid, SIGKILL);
        int status = 0;
        waitpid(pid, &status, 0);
        /* Reports the child finished before it died count too. */
        for (;;) {
            ssize_t r = read(fds[0], pending + pending_len, sizeof(pending) - pending_len);
            if (r <= 0) {
                break;
            }
            pending_len += (size_t)r;
            got += consume();
        }
        close(fds[0]);
        syncs_seen += got;
        if (child_died || !WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL) {
            fprintf(stderr, "kill9: round %u: the child ended on its own (status %d)\n", round,
                    status);
            failures++;
            break;
        }
        verify(path, round);
    }
    unlink(path);
    rmdir(dir);
    printf("kill9: %llu syncs acknowledged, other failures: %llu\n", (unsigned long long)syncs_seen,
           (unsigned long long)failures);
    printf("kill9: rounds: %u, acknowledged records lost: %llu, corrupt records returned: %llu\n",
           round, (unsigned long long)lost, (unsigned long long)corrupt);
    return (lost != 0 || corrupt != 0 || failures != 0) ? 1 : 0;
}
