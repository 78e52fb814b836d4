# Sourced by the scripts before mpirun: what Open MPI needs on a single machine
# run as root with more ranks than cores. One machine only: it keeps TCP on the
# loopback interface, so a launch across hosts with it hangs; docs/RUNNING.md
# says what to set there instead. The same list is set on the MPI tests by
# cmake/ParkitTesting.cmake.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
export OMPI_MCA_pml=ob1 OMPI_MCA_btl=self,vader,tcp OMPI_MCA_mtl='^ofi,psm,psm2' OMPI_MCA_osc='^ucx'
export OMPI_MCA_btl_vader_single_copy_mechanism=none
export OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo
export OMPI_MCA_mpi_yield_when_idle=1 OMPI_MCA_hwloc_base_binding_policy=none
export PMIX_MCA_gds=hash
export MPIEXEC_TIMEOUT=${MPIEXEC_TIMEOUT:-300}
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}   # spinning threads steal the cores of other ranks
