/* placeholder */
#include "test.h"
int main(void);
/* x */
int
main(void)
{
	TEST_DONE();
}
