/* sample: the sample configuration (the .conf files in scenarios/sample) compiled into the
 * programs, so that `muster init` can write a working configuration on a machine without the
 * sources. */
#ifndef MUSTER_SAMPLE_H
#define MUSTER_SAMPLE_H

#include <stddef.h>

/* One embedded file; DATA is followed by a NUL byte not counted in LEN. */
struct sample_file {
	const char *name; /* file name without directory, e.g. "district.conf" */
	const unsigned char *data;
	size_t len;
};

/* The embedded files, in the order given to the build. */
extern const struct sample_file sample_files[];
extern const size_t n_sample_files;

#endif
