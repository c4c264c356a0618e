// Tests of a number format this CPU cannot run (as capped by ONEDNN_MAX_CPU_ISA) skip, naming the
// instruction set found and what the format needs; test_cpu_support.cpp checks the refusal instead.
#pragma once
#include <gtest/gtest.h>

#include "vit/util/cpu_support.hpp"

// Use in a test body (GTEST_SKIP returns from it).
#define VIT_SKIP_UNLESS_DTYPE_RUNS(d)                                                                         \
    do {                                                                                                      \
        const vit::DtypeSupport& support_ = vit::cpu_support().dtype(d);                                      \
        if (support_.mode == vit::DtypeMode::Refused)                                                         \
            GTEST_SKIP() << vit::to_string(d) << " is refused on " << vit::cpu_support().isa << ": "           \
                         << support_.note;                                                                    \
    } while (0)
