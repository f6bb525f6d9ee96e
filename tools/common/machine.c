/* machine.c - the CPU model for benchmark and read-rate reports. */
#include "machine.h"

#include <stdio.h>
#include <string.h>

/* The first "model name" (x86) or "Model"/"Hardware" (ARM: a Pi says which
 * board it is there) line of /proc/cpuinfo. */
void machine_cpu_model(char *out, size_t size)
{
    snprintf(out, size, "unknown CPU");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof(line), f)) {
        char *colon = strchr(line, ':');
        if (!colon || (strncmp(line, "model name", 10) != 0 && strncmp(line, "Model", 5) != 0 &&
                       strncmp(line, "Hardware", 8) != 0))
            continue;
        colon += 1 + strspn(colon + 1, " \t");
        colon[strcspn(colon, "\n")] = '\0';
        snprintf(out, size, "%.100s", colon);
        break;
    }
    fclose(f);
}
