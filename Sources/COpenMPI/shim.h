/* Open MPI's headers, for the CMPIShim C target only: Swift never imports this module
   (MPI's datatype and communicator handles are macros Swift cannot import). */
#include <mpi.h>
