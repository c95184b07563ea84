/*
 * Standard streams, number parsing and time helpers shared by the
 * rekor-* programs.
 */
#ifndef RK_UTIL_H
#define RK_UTIL_H

#include <stddef.h>
#include <stdint.h>

void	 stdio_setup(void);
int	 out_write_line(const char *, size_t);
int	 stdout_finish(int);
int	 parse_uint64(const char *, uint64_t, uint64_t, uint64_t *);
int	 parse_duration_ms(const char *, uint64_t, uint64_t, uint64_t *);
uint64_t now_ms(void);
void	 sleep_ms(uint64_t);
int	 format_rfc3339(int64_t, char *, size_t);
int	 utf8_valid(const void *, size_t);

#endif
