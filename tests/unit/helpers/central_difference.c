/* central_difference.c: the bound of a central difference.
 *
 * With h1 = hi - x and h2 = x - lo (the steps the float parameter took),
 * Taylor's theorem with the remainder gives, for L three times
 * differentiable between lo and hi,
 *
 *     (L(hi) - L(lo)) / (h1 + h2) - L'(x)
 *         = (h1 - h2) / 2 L''(x) + (h1^3 L'''(a) + h2^3 L'''(b)) / (6 (h1 + h2)),
 *
 * so its size is at most |h1 - h2| / 2 max|L''| + max(h1, h2)^2 / 6 max|L'''|.
 * For a part of L whose L' bends inside the step (smooth L1's junction)
 * only |L''| is bounded; the quotient is then a mean of L' over the step,
 * within max(h1, h2) max|L''| of L'(x): the `bend` term.  The rounding of the two losses adds
 * (err up + err down) / (h1 + h2), and the computed gradient's own error
 * adds its bound. */
#include "central_difference.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

double fd_bound(double x, double hi, double lo, fd_terms t)
{
    double h1 = hi - x, h2 = x - lo, h = fmax(h1, h2), step = hi - lo;
    double curvature = fabs(h1 - h2) / 2 * t.second + h * h / 6 * t.third + h * t.bend;
    return t.rounding / step + curvature + t.gradient;
}

void fd_check(const char *what, long entry, double up, double down, double x, double hi, double lo,
              double computed, fd_terms t)
{
    double numeric = (up - down) / (hi - lo), bound = fd_bound(x, hi, lo, t);
    if (!(fabs(numeric - computed) <= bound))
        fail_msg("%s, entry %ld: computed %.7g, central difference %.7g (bound %.3g)", what, entry, computed,
                 numeric, bound);
}
