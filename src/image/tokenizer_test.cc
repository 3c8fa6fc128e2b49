// SCAFFOLD: to be written by its owner (see /tmp/h/images-contract.md).
#include <gtest/gtest.h>
