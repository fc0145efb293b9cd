/* central_difference.h: the one gradient check of the unit tests.  A
 * layer's or a loss's computed gradient at one parameter against the
 * central difference of the loss L, within a bound built from terms each
 * test derives for its own arithmetic (central_difference.c says how they
 * add up). */
#ifndef CENTRAL_DIFFERENCE_H
#define CENTRAL_DIFFERENCE_H

typedef struct fd_terms {
    double rounding;   /* bound on |error of L(hi)| + |error of L(lo)| */
    double third;      /* bound on |L'''| between lo and hi */
    double second;     /* bound on |L''| there (it matters when the steps differ) */
    double bend;       /* bound on |L''| of a part of L whose L' bends inside the step */
    double gradient;   /* bound on the computed gradient's own error */
} fd_terms;

/* The bound on |(up - down) / (hi - lo) - computed| for a parameter at x
 * moved to the floats hi and lo, with up = L(hi) and down = L(lo). */
double fd_bound(double x, double hi, double lo, fd_terms t);

/* Fails the test, naming `what` and the entry, when the central difference
 * is not within fd_bound of `computed`. */
void fd_check(const char *what, long entry, double up, double down, double x, double hi, double lo,
              double computed, fd_terms t);

#endif
