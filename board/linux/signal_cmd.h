/* `natsedge --signal <command>[=<pid|pid file>]` (-sl): sends a running
 * natsedge the signal for a command, as nats-server's --signal does:
 * ldm (SIGUSR2), reload (SIGHUP), reopen (SIGUSR1), quit (SIGINT),
 * term (SIGTERM), stop (SIGKILL). Without a pid the one running process of
 * this program's name is found in /proc. */
#ifndef NE_BOARD_SIGNAL_CMD_H
#define NE_BOARD_SIGNAL_CMD_H

#include <stddef.h>

/* Sends the signal; 0 on success, else -1 with nats-server's message in
 * err ("no natsedge processes running", "invalid pid: x", ...). prog is
 * argv[0]: its base name is the process name looked for. */
int ne_board_signal_command(const char *arg, const char *prog, char *err, size_t err_cap);

#endif
