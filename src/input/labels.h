/* labels.h: strict detection box files and classification label lists
 * (labels.c; the hooks are declared in ext.h). */
#ifndef LABELS_H
#define LABELS_H

/* Forgets every label list read so far (the fuzz harness, between inputs). */
void labels_forget_all(void);

#endif
