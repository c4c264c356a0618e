# ctest labels for the GoogleTest cases, read by ctest after gtest_discover_tests' list of vit_tests
# (tests/CMakeLists.txt appends this file to TEST_INCLUDE_FILES). A case gets one kind:
#   cli     runs the `vit` program (or mpirun) on real files;
#   parity  compares with ground truth made by timm, Hugging Face, PyTorch or PIL (../shared/fixtures,
#           tests/fixtures);
#   unit    everything else: one function, layer or file format on its own;
# and, where a run takes 3 s or more on a 2-core machine, `slow`: a slow program or parity test keeps
# its kind beside it, a slow unit test is `slow` only, so that `ctest -L unit` (the check while
# editing) stays under a minute. `ctest` runs them all.
set(vit_cli_suites "Cli|CliTrain|ExplainCli|ProgressCli|HubCli|ExportCli|Mpi|MpiTrain")
set(vit_parity_suites "ForwardParity|TimmHub/HubModel|HuggingFaceViT|HuggingFaceDeiT|HuggingFaceDinov2|HuggingFaceFolders|HubLayout|Preprocess/CropModeFixture|Preprocess/PreprocessFixture|PreprocessResize|Fixtures/Bf16Model|Fixtures/Int8Model|Models/OnnxModel|OnnxInt8|Bf16Cifar|Int8Cifar|TimmExport|Variants/TimmExport|HfExport|TrainStep|Rollout|AugmentOps|AutoAugment")
set(vit_slow_tests
  "Cli.ShippedCifarModelsReachTheirRecordedAccuracy"
  "Bf16Cifar.ShippedModelAgreesWithF32OnTheTestImages"
  "ExplainCli.EveryMethodWritesPanels"
  "OnnxInt8.ShippedModelInOnnxRuntimePredictsWhatOurInt8RunnerPredicts"
  "Int8Cifar.ShippedModelKeepsItsAccuracyOnTestImages"
  "Faithfulness.EveryMethodIsScoredUnderEveryBaseline"
  "ExplainCli.HtmlGalleryLoadsEveryPanelInHeadlessChromium"
  "GradCheck.DropoutWithFixedMasks"
  "GradCheck.DropPathWithFixedMasks"
  "GradCheck.AttentionDropoutWithFixedMasks"
  "GradCheck.AttentionPoolUnderAllNoiseWithFixedMasks"
  "Fit.LearnsAndWritesRunFolder"
  "Fit.InterruptedAndResumedRunEndsWithTheSameWeights"
  "Fit.EvaluatingEveryOtherEpochTrainsTheSameWeights"
  "Faithfulness.MatchesNaiveComputation"
  "Faithfulness.StandardErrorIsZeroForIdenticalImagesAndPositiveForTheRandomMap"
  "Faithfulness.ConstantModelByHand"
  "GradCheck.LayerScaleRegistersDistillationAndNormPreUnderAllNoiseWithFixedMasks"
  "GradCheck.AllNoiseTogetherWithFixedMasks"
  "Saliency.ProductIsTheProductOfTheFactorsScaledToUnitRange"
  "Mpi.ClassifyOnSeveralProcessesWritesTheSingleProcessRowsInOrder"
  "CliTrain.FineTunesADinov2HubFolderWithoutHeadOnANewHead"
  "CliTrain.BadInputsGetClearMessages")
foreach(vit_test IN LISTS vit_tests_TESTS)
  string(REGEX REPLACE "\\.[^.]*$" "" vit_suite "${vit_test}")
  if(vit_suite MATCHES "^(${vit_cli_suites})$")
    set(vit_labels cli)
  elseif(vit_suite MATCHES "^(${vit_parity_suites})$")
    set(vit_labels parity)
  else()
    set(vit_labels unit)
  endif()
  list(FIND vit_slow_tests "${vit_test}" vit_slow_index)
  if(vit_slow_index GREATER -1 AND vit_labels STREQUAL "unit")
    set(vit_labels slow)
  elseif(vit_slow_index GREATER -1)
    list(APPEND vit_labels slow)
  endif()
  set_tests_properties("${vit_test}" PROPERTIES LABELS "${vit_labels}")
endforeach()
