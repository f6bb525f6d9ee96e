/* machine.h - name the machine a measurement ran on, for reports in docs/. */
#ifndef CCCD_TOOLS_MACHINE_H
#define CCCD_TOOLS_MACHINE_H

#include <stddef.h>

/* The CPU's model name from /proc/cpuinfo, or "unknown CPU". */
void machine_cpu_model(char *out, size_t size);

#endif
