#include "counters.h"

const char *const ctl_chan_error_names[CTL_ERR_MAX] = {
#define CTL_X_NAME(name, label) label,
    CTL_CHAN_ERRORS(CTL_X_NAME)
#undef CTL_X_NAME
};
