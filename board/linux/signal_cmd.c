#include "signal_cmd.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct signal_name {
    const char *command;
    int sig;
} signal_name;

static const signal_name commands[] = {
    {"stop", SIGKILL},  {"quit", SIGINT}, {"reopen", SIGUSR1},
    {"reload", SIGHUP}, {"ldm", SIGUSR2}, {"term", SIGTERM},
};

/* Longest process name the kernel keeps in /proc/<pid>/comm. */
#define COMM_BYTES 16
/* Processes reported when several match (the message lists them). */
#define MAX_LISTED 16

static bool parse_pid(const char *text, long *pid)
{
    char *end;
    if (*text == '\0' || isspace((unsigned char)*text)) {
        return false;
    }
    long v = strtol(text, &end, 10);
    while (isspace((unsigned char)*end)) {
        end++; /* a pid file's trailing newline */
    }
    if (*end != '\0' || v <= 0) {
        return false;
    }
    *pid = v;
    return true;
}

/* nats-server reads the value as a pid file if such a file exists. */
static void maybe_read_pid_file(const char *value, char *out, size_t cap)
{
    snprintf(out, cap, "%s", value);
    FILE *f = fopen(value, "r");
    if (f == NULL) {
        return;
    }
    size_t n = fread(out, 1, cap - 1, f);
    out[n] = '\0';
    fclose(f);
}

/* The processes named like this program, other than this one (pgrep's
 * match on the kernel's process name). Returns how many; up to MAX_LISTED
 * pids go to pids. */
static int find_processes(const char *name, long pids[MAX_LISTED])
{
    DIR *proc = opendir("/proc");
    if (proc == NULL) {
        return -1;
    }
    char want[COMM_BYTES]; /* the kernel cuts the name at 15 characters */
    snprintf(want, sizeof(want), "%s", name);
    int found = 0;
    long self = (long)getpid();
    struct dirent *e;
    while ((e = readdir(proc)) != NULL) {
        long pid;
        if (!parse_pid(e->d_name, &pid) || pid == self) {
            continue;
        }
        char path[64], comm[COMM_BYTES + 2] = "";
        snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
        FILE *f = fopen(path, "r");
        if (f == NULL) {
            continue;
        }
        if (fgets(comm, sizeof(comm), f) == NULL) {
            comm[0] = '\0';
        }
        fclose(f);
        comm[strcspn(comm, "\n")] = '\0';
        if (strcmp(comm, want) == 0) {
            if (found < MAX_LISTED) {
                pids[found] = pid;
            }
            found++;
        }
    }
    closedir(proc);
    return found;
}

int ne_board_signal_command(const char *arg, const char *prog, char *err, size_t err_cap)
{
    const char *base = strrchr(prog, '/');
    base = base != NULL ? base + 1 : prog;
    char command[32];
    const char *eq = strchr(arg, '=');
    size_t clen = eq != NULL ? (size_t)(eq - arg) : strlen(arg);
    if (eq != NULL && strchr(eq + 1, '=') != NULL) {
        snprintf(err, err_cap, "invalid signal parameters: [%s]", strchr(eq + 1, '=') + 1);
        return -1;
    }
    if (clen >= sizeof(command)) {
        clen = sizeof(command) - 1;
    }
    snprintf(command, sizeof(command), "%.*s", (int)clen, arg);
    long pid = 0;
    if (eq != NULL) {
        char text[64];
        maybe_read_pid_file(eq + 1, text, sizeof(text));
        if (!parse_pid(text, &pid)) {
            snprintf(err, err_cap, "invalid pid: %s", text);
            return -1;
        }
    } else {
        long pids[MAX_LISTED];
        int n = find_processes(base, pids);
        if (n < 0) {
            snprintf(err, err_cap, "unable to resolve pid, try providing one");
            return -1;
        }
        if (n == 0) {
            snprintf(err, err_cap, "no %s processes running", base);
            return -1;
        }
        if (n > 1) {
            size_t len = (size_t)snprintf(err, err_cap, "multiple %s processes running:", base);
            for (int i = 0; i < n && i < MAX_LISTED && len < err_cap; i++) {
                len += (size_t)snprintf(err + len, err_cap - len, "\n%ld", pids[i]);
            }
            return -1;
        }
        pid = pids[0];
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(commands[i].command, command) == 0) {
            if (kill((pid_t)pid, commands[i].sig) != 0) {
                /* Go's wording of the error is in lower case. */
                snprintf(err, err_cap, "%s", strerror(errno));
                err[0] = (char)tolower((unsigned char)err[0]);
                return -1;
            }
            return 0;
        }
    }
    snprintf(err, err_cap, "unknown signal \"%s\"", command);
    return -1;
}
