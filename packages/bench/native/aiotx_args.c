/* aiotx's argument helpers: its native/args.c, found on the include path that binding.gyp sets to
 * the installed aiotx's native/ folder, compiled into this addon rather than copied. */
#include <args.c>
