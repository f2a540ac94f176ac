/* Line-based TCP control connection of --serve/--peer. */
#ifndef SPARK_NETCHECK_LINEIO_H
#define SPARK_NETCHECK_LINEIO_H

#include <netinet/in.h>
#include <stdbool.h>

#define NC_LINE_MAX 512
#define NC_LINE_TIMEOUT_S 60

struct nc_conn {
	int fd;
	int used;
	char buf[2 * NC_LINE_MAX];
};

void nc_line_timeouts(int fd, int seconds);
bool nc_line_send(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool nc_line_recv(struct nc_conn *c, char *out, int len);
/* Splits line in place at spaces; returns the number of tokens (at most max). */
int nc_tokens(char *line, char **tok, int max);
/* A whole decimal number in [lo, hi]. */
bool nc_token_int(const char *text, long lo, long hi, int *out);

/* A connected socket (timeouts set), or -1 with a reason. */
int nc_tcp_connect(const char *host, int port, char *err, int len);
int nc_tcp_listen(int port, char *err, int len);

#endif
