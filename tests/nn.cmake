# nn layers and the HARDY backbone: kernels vs _ref twins, finite-difference gradients,
# padding/dropout invariance, absent-expert skipping, gradient-bucket order. Serial (no MPI
# communication in these modules).
hardy_add_test(NAME test_nn SOURCES test_nn.c TIMEOUT 60)
hardy_add_test(NAME test_model SOURCES test_model.c TIMEOUT 60)
