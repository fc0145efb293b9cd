/* det_test.h: detector test with AlexeyAB's JSON and box outputs (det_test.c). */
#ifndef DET_TEST_H
#define DET_TEST_H

/* ./darknet detector test DATA CFG [WEIGHTS [IMAGE]] [options] */
void det_test_command(int argc, char **argv);

#endif
