// A layering violation on purpose (see ../coordinator/dispatch/bad.hpp).
#include "coordinator/ledger/ledger.hpp"
