"""Moved to :mod:`curation.model_files`: the core's langid checks its fastText file with it, and the core
imports nothing from ``classifiers``. The names stay importable from here for the model code."""

from curation.model_files import FASTTEXT_MAGIC as FASTTEXT_MAGIC
from curation.model_files import FASTTEXT_VERSIONS as FASTTEXT_VERSIONS
from curation.model_files import ZIP_CRC_LIMIT as ZIP_CRC_LIMIT
from curation.model_files import ModelFileError as ModelFileError
from curation.model_files import check_encoder_weights as check_encoder_weights
from curation.model_files import check_fasttext as check_fasttext
from curation.model_files import check_safetensors as check_safetensors
from curation.model_files import check_zip as check_zip
from curation.model_files import describe as describe
from curation.model_files import encoder_weight_files as encoder_weight_files
from curation.model_files import sha256_file as sha256_file
from curation.model_files import verify as verify
