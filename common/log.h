/*
 * Diagnostics on standard error, one line each: "prog: message".
 * error and warn are shown by default, -q hides warn, -v shows info and
 * -vv debug.  Never pass a secret to these functions.
 */
#ifndef RK_LOG_H
#define RK_LOG_H

enum log_level {
	LOG_ERROR = 0,
	LOG_WARN = 1,
	LOG_INFO = 2,
	LOG_DEBUG = 3
};

void	 log_init(const char *);
void	 log_set_level(enum log_level);
enum log_level log_get_level(void);
int	 log_parse_level(const char *, enum log_level *);
const char *log_progname(void);

void	 log_error(const char *, ...)
	    __attribute__((format(printf, 1, 2)));
void	 log_warn(const char *, ...)
	    __attribute__((format(printf, 1, 2)));
void	 log_info(const char *, ...)
	    __attribute__((format(printf, 1, 2)));
void	 log_debug(const char *, ...)
	    __attribute__((format(printf, 1, 2)));

#endif
