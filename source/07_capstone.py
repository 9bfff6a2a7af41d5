# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
#   lesson:
#     summary:
#       vi: "Tổng kết: mọi mô hình trên một bảng (mIoU, điểm F biên, tham số, FLOPs, độ trễ, bộ nhớ)"
#       en: "Capstone: every model on one table (mIoU, boundary F, parameters, FLOPs, latency, memory)"
# ---

# %% [markdown] lang="vi"
# # Bài 07 — Tổng kết: mọi mô hình trên một bảng
#
# **Mục tiêu của bài**
#
# 1. Huấn luyện bốn kiến trúc của khoá học — FCN, DeepLabV3 (ASPP), PSPNet (gộp kim tự tháp) và RefineNet nhẹ — với **cùng** mạng xương sống, cùng dữ liệu, cùng số epoch, mỗi kiến trúc có và không có Squeeze-and-Excitation (SE).
# 2. Chấm mỗi mô hình trước và sau CRF kết nối đầy đủ: mIoU và điểm F trên biên trên tập kiểm định.
# 3. Đo chi phí cho một ảnh: số tham số, FLOPs, độ trễ trên CPU và bộ nhớ đỉnh của các bản đồ đặc trưng.
# 4. Tự rút ra mỗi khối của khoá học đem lại gì và tốn bao nhiêu — từ **số đo của chính bạn**.

# %% [markdown] lang="en"
# # Lesson 07 — Capstone: every model on one table
#
# **Goals**
#
# 1. Train the course's four architectures — FCN, DeepLabV3 (ASPP), PSPNet (pyramid pooling) and the light-weight RefineNet — on the **same** backbone, data and number of epochs, each with and without Squeeze-and-Excitation (SE).
# 2. Score every model before and after the fully-connected CRF: validation mIoU and boundary F-score.
# 3. Measure the cost of one image: parameters, FLOPs, CPU latency and peak activation memory.
# 4. Work out what each block of the course buys and what it costs — from **your own measurements**.

# %%
import json
from pathlib import Path

import matplotlib.pyplot as plt
import torch

from src import checks, compare, data, metrics, viz

src.seed_everything(0)
print(src.get_device())

# %% [markdown] lang="vi"
# ## 1. Giao thức so sánh
#
# Một so sánh chỉ công bằng khi mọi thứ khác được giữ nguyên. Ở đây:
#
# - **Dữ liệu**: biến thể `mosaic` (5 loại vân), ảnh 64×64, cùng tập huấn luyện và tập kiểm định cho mọi mô hình.
# - **Mạng xương sống** (*backbone*): `TinyBackbone` ở output stride 8 (bài 02), khởi tạo ngẫu nhiên cùng một hạt giống.
# - **Đầu ra của từng kiến trúc**, thu nhỏ cho vừa CPU (64 kênh thay vì 256–512): FCN là một đầu tích chập $3\times3$; DeepLabV3 thêm ASPP với đặc trưng mức ảnh (bài 03), hệ số giãn (2, 4, 6) thu nhỏ theo bản đồ đặc trưng $8\times8$ như bài 02 dạy (với (12, 24, 36) mặc định, các nhánh giãn chỉ thấy phần đệm); PSPNet thêm gộp kim tự tháp với các ô 1, 2, 3, 6 (bài 03); RefineNet nhẹ dùng chuỗi hợp nhất đa độ phân giải và gộp phần dư chuỗi trên cả bốn tầng (bài 05).
# - **SE**: một khối SE ở cuối nhánh phần dư của mỗi khối trong mạng xương sống, cộng một khối scSE ở bộ giải mã (bài 06).
# - **Huấn luyện**: Adam, cùng tốc độ học và lịch, cùng số epoch; đánh giá ở chế độ `eval()`.
# - **CRF**: `src.crf.dense_crf` (đường nhanh, lưới permutohedral) với bộ tham số mà bài 04 dùng cho ảnh ghép vân (`compare.MOSAIC_CRF`; tham số mặc định của DeepLab được chỉnh cho ảnh màu cỡ 500 điểm ảnh và làm mượt quá tay ảnh xám 64 điểm ảnh), áp lên xác suất softmax của từng ảnh kiểm định.
# - **Chi phí**: đo trên một ảnh 64×64 bằng `src.profiling` — FLOPs (một phép nhân-cộng tính là 2), bộ nhớ kích hoạt đỉnh (*peak activation memory*: các tensor sinh ra trong lượt truyền xuôi), và trung vị độ trễ của 5 lần chạy.
#
# Đây là thiết lập **nhỏ** (chạy dưới một phút); `benchmarks/bench_capstone.py` chạy thiết lập dài hơn (nhiều dữ liệu, nhiều epoch hơn) và số liệu của nó được đọc ở cuối bài.

# %% [markdown] lang="en"
# ## 1. The protocol
#
# A comparison is only fair when everything else stays fixed. Here:
#
# - **Data**: the `mosaic` variant (5 textures), 64×64 images, the same training and validation sets for every model.
# - **Backbone**: `TinyBackbone` at output stride 8 (lesson 02), randomly initialised from the same seed.
# - **Each architecture's head**, shrunk to fit a CPU (64 channels instead of 256–512): FCN is a $3\times3$ convolutional head; DeepLabV3 adds ASPP with the image-level feature (lesson 03), with rates (2, 4, 6) scaled to the $8\times8$ feature map as lesson 02 teaches (with the default (12, 24, 36) the atrous branches would only see padding); PSPNet adds pyramid pooling with bins 1, 2, 3, 6 (lesson 03); the light-weight RefineNet uses chained multi-resolution fusion and chained residual pooling over all four stages (lesson 05).
# - **SE**: one SE block at the end of the residual branch of every backbone block, plus an scSE block in the decoder (lesson 06).
# - **Training**: Adam, same learning rate and schedule, same number of epochs; evaluation in `eval()` mode.
# - **CRF**: `src.crf.dense_crf` (the fast path, a permutohedral lattice) with the parameters lesson 04 uses for the mosaics (`compare.MOSAIC_CRF`; DeepLab's defaults were tuned for ~500-pixel colour photos and over-smooth 64-pixel grey images), applied to the softmax probabilities of each validation image.
# - **Cost**: measured on one 64×64 image with `src.profiling` — FLOPs (a multiply-add counts as 2), the peak memory of the tensors created during the forward pass, and the median latency of 5 runs.
#
# This is the **small** setting (it runs in under a minute); `benchmarks/bench_capstone.py` runs a longer one (more data, more epochs) and its figures are read at the end of the lesson.

# %%
rows = compare.compare(variant="mosaic", size=64, epochs=6, train_count=192, val_count=32)

# %% [markdown] lang="vi"
# ## 2. Bảng và hình
#
# Mỗi hàng là một mô hình. `miou`, `boundary_f1`: trước CRF; `miou_crf`, `boundary_f1_crf`: sau CRF. `mflops`: triệu FLOPs cho một ảnh; `latency_ms`: độ trễ (ms) cho một ảnh trên thiết bị đang chạy; `peak_memory_mib`: bộ nhớ đỉnh (MiB) của các bản đồ đặc trưng khi suy luận; `train_seconds`: thời gian huấn luyện. Các cột thời gian phụ thuộc máy của bạn; các cột còn lại thì không.

# %% [markdown] lang="en"
# ## 2. The table and the figure
#
# One row per model. `miou`, `boundary_f1`: before the CRF; `miou_crf`, `boundary_f1_crf`: after it. `mflops`: millions of FLOPs per image; `latency_ms`: latency (ms) per image on the device in use; `peak_memory_mib`: peak activation memory (MiB) at inference; `train_seconds`: training time. The time columns depend on your machine; the others do not.

# %%
table = compare.as_table(rows)
table

# %%
fig = compare.plot_comparison(rows)

# %% [markdown] lang="vi"
# ## 3. Mỗi khối đem lại gì, và tốn bao nhiêu?
#
# Ô dưới tính ba loại chênh lệch từ bảng trên: so với FCN (cùng SE hay không), mỗi đầu ngữ cảnh thêm bao nhiêu mIoU và gấp mấy lần FLOPs; SE thêm bao nhiêu mIoU và bao nhiêu tham số cho từng kiến trúc; CRF thêm bao nhiêu mIoU và điểm F trên biên. Hãy đọc chúng cùng với hình: một khối "đáng tiền" khi nó đẩy điểm lên nhiều hơn độ dao động giữa các lần chạy, với chi phí bạn chấp nhận được.

# %% [markdown] lang="en"
# ## 3. What does each block buy, and at what cost?
#
# The cell below computes three kinds of difference from the table: against FCN (same SE setting), how much mIoU each context head adds and how many times the FLOPs; how much mIoU and how many parameters SE adds to each architecture; how much mIoU and boundary F the CRF adds. Read them together with the figure: a block "pays for itself" when it lifts the score by more than the run-to-run noise at a cost you can accept.

# %%
by_key = {(r.model, r.se): r for r in rows}
print("context head vs FCN (no SE):")
for r in rows:
    if not r.se and r.model != "FCN":
        base = by_key[("FCN", False)]
        print(f"  {r.model:18s} mIoU {r.miou - base.miou:+.3f}   FLOPs x{r.mflops / base.mflops:.2f}")
print("SE:")
for r in rows:
    if r.se:
        plain = by_key[(r.model, False)]
        print(f"  {r.model:18s} mIoU {r.miou - plain.miou:+.3f}   params {r.params - plain.params:+,}")
print("CRF:")
for r in rows:
    label = r.model + (" + SE" if r.se else "")
    print(f"  {label:23s} mIoU {r.miou_crf - r.miou:+.3f}   boundary F {r.boundary_f1_crf - r.boundary_f1:+.3f}")

# %% [markdown] lang="vi"
# **Cách đọc.** Với cùng ngân sách huấn luyện rất nhỏ, chênh lệch giữa các kiến trúc có thể chỉ vài phần trăm, và một phần trong đó là nhiễu của hạt giống ngẫu nhiên: đừng kết luận từ một chênh lệch nhỏ hơn vài phần trăm mIoU, và đừng ngạc nhiên nếu một đầu ngữ cảnh đắt tiền chưa thắng FCN ở ngân sách này — các đầu ngữ cảnh có nhiều tham số hơn để học trong cùng số bước. Ngược lại, các cột chi phí (tham số, FLOPs, bộ nhớ) là tất định — chúng đúng như nhau trên mọi máy. CRF không cần huấn luyện; nó chỉ có thể sửa các điểm ảnh sát biên (bài 04), và trên ảnh mức xám của bộ dữ liệu, nhân song phương chỉ có độ sáng để dựa vào, nên nó giúp hay hại tuỳ vào việc hai vân kề nhau có độ sáng khác nhau hay không. Hãy đọc các dòng CRF ở trên thay vì mặc định rằng nó luôn có ích.

# %% [markdown] lang="en"
# **How to read it.** With the same very small training budget, the architectures may differ by only a few points, part of which is seed noise: do not conclude from a gap smaller than a few points of mIoU, and do not be surprised if an expensive context head has not beaten FCN at this budget — context heads have more parameters to learn in the same number of steps. The cost columns (parameters, FLOPs, memory), on the other hand, are deterministic — identical on every machine. The CRF needs no training; it can only fix pixels next to boundaries (lesson 04), and on the dataset's grey images the bilateral kernel has only brightness to go by, so whether it helps or hurts depends on whether neighbouring textures differ in brightness. Read the CRF lines above rather than assume it always helps.

# %% [markdown] lang="vi"
# ## 4. Bài tập
#
# **Bài tập 07-1 — chọn mô hình dưới một ngân sách độ trễ.** Một ứng dụng chỉ cho phép `latency_budget_ms` mili-giây mỗi ảnh. Viết `best_under_budget(rows, latency_budget_ms)`: `rows` là danh sách dict có các khoá `model`, `se`, `miou`, `latency_ms`; trả về tên của mô hình có `miou` cao nhất trong số các mô hình có `latency_ms <= latency_budget_ms`, dạng `model` hoặc `model + " + SE"` khi `se` là `True`; nếu hoà thì chọn mô hình nhanh hơn; nếu không mô hình nào vừa thì trả về `None`.

# %% [markdown] lang="en"
# **Exercise 07-1 — pick a model under a latency budget.** An application allows `latency_budget_ms` milliseconds per image. Write `best_under_budget(rows, latency_budget_ms)`: `rows` is a list of dicts with keys `model`, `se`, `miou`, `latency_ms`; return the name of the model with the highest `miou` among those with `latency_ms <= latency_budget_ms`, as `model`, or `model + " + SE"` when `se` is `True`; on a tie prefer the faster one; if none fits, return `None`.


# %%
def best_under_budget(rows, latency_budget_ms):
    ### BEGIN SOLUTION
    fitting = [r for r in rows if r["latency_ms"] <= latency_budget_ms]
    if not fitting:
        return None
    best = max(fitting, key=lambda r: (r["miou"], -r["latency_ms"]))
    return best["model"] + (" + SE" if best["se"] else "")
    ### END SOLUTION


# %%
result = checks.check_best_under_budget(best_under_budget)

# %% [markdown] lang="vi"
# Áp lời giải tham chiếu lên bảng của **bạn**, với ngân sách bằng trung vị các độ trễ đo được (nên kết quả phụ thuộc vào máy):

# %% [markdown] lang="en"
# Apply the reference solution to **your** table, with a budget equal to the median of the measured latencies (so the answer depends on your machine):

# %%
records = table.to_dict("records")
budget = float(table["latency_ms"].median())
print(f"budget = median latency; best model within it: {compare.best_under_budget(records, budget)}")
print(f"no budget: {compare.best_under_budget(records, float('inf'))}")

# %% [markdown] lang="vi"
# **Bài tập 07-2 — giải thích một trường hợp thất bại.** Trước khi giải thích, cần biết mô hình sai ở đâu. Viết `most_confused(cm)`: nhận ma trận nhầm lẫn $C\times C$ (hàng = nhãn thật, cột = dự đoán), trả về cặp `(lớp có IoU thấp nhất, lớp mà nó bị dự đoán nhầm thành nhiều nhất)` (bỏ qua đường chéo).

# %% [markdown] lang="en"
# **Exercise 07-2 — explain a failure case.** Before explaining, find where the model fails. Write `most_confused(cm)`: it takes a $C\times C$ confusion matrix (rows = true labels, columns = predictions) and returns the pair `(class with the lowest IoU, the class it is most often predicted as)` (diagonal excluded).


# %%
def most_confused(cm):
    ### BEGIN SOLUTION
    cm = cm.double()
    tp = cm.diag()
    iou = tp / (cm.sum(0) + cm.sum(1) - tp)
    worst = int(torch.nan_to_num(iou, nan=2.0).argmin())
    row = cm[worst].clone()
    row[worst] = -1
    return worst, int(row.argmax())
    ### END SOLUTION


# %%
result = checks.check_most_confused(most_confused)

# %% [markdown] lang="vi"
# Giờ áp nó lên mô hình yếu nhất trong bảng và nhìn các dự đoán của nó: chỗ sai tô vàng ở cột cuối (màu không lớp nào dùng).

# %% [markdown] lang="en"
# Now apply it to the weakest model of the table and look at its predictions: errors are yellow in the last column (a colour no class uses).

# %%
val_set = data.TextureMosaics("mosaic", "val", size=64, count=32)
weakest = min(rows, key=lambda r: r.miou)
worst, confused_with = compare.most_confused(weakest.confusion)
names = val_set.class_names
print(
    f"weakest: {weakest.model}{' + SE' if weakest.se else ''}; worst class: {names[worst]}, mostly predicted as {names[confused_with]}"
)
iou = metrics.iou_from_confusion(weakest.confusion)
print({n: round(v, 3) for n, v in zip(names, iou.tolist())})
fig = viz.show_predictions(val_set.images, val_set.masks, weakest.predictions, val_set.palette, names, n=4)

# %% [markdown] lang="vi"
# **Tự giải thích (không chấm tự động).** Dựa vào hình và các con số trên, viết vài câu trả lời: hai loại vân bị nhầm trông giống nhau ở điểm nào khi chỉ nhìn một mảnh nhỏ? Lỗi nằm ở giữa vùng hay sát biên? Khối nào của khoá học nhắm vào đúng loại lỗi này — trường tiếp nhận lớn hơn (bài 01–02), ngữ cảnh đa tỉ lệ (bài 03), CRF (bài 04) hay bộ giải mã tinh chỉnh (bài 05)? Bảng ở mục 2 có xác nhận điều đó không?

# %% [markdown] lang="en"
# **Explain it yourself (not auto-graded).** From the figure and the numbers above, write a few sentences: in what way do the two confused textures look alike when you only see a small patch? Are the errors inside regions or next to boundaries? Which block of the course targets exactly this kind of error — a larger receptive field (lessons 01–02), multi-scale context (03), the CRF (04) or the refining decoder (05)? Does the table of section 2 confirm it?

# %% [markdown] lang="vi"
# ## 5. Thiết lập dài hơn (benchmark)
#
# `python experiments/capstone.py` chạy cùng phép so sánh với nhiều dữ liệu và nhiều epoch hơn, ở ảnh 96×96, và ghi kết quả vào `src/results/capstone.json` (đi kèm gói `src`). Ô dưới đọc tệp đó qua `src.record.load_json` và in ra, kèm máy và thời điểm đo; các con số này do script benchmark tính, không phải notebook này.

# %% [markdown] lang="en"
# ## 5. The longer setting (benchmark)
#
# `python experiments/capstone.py` runs the same comparison with more data and more epochs, on 96×96 images, and writes `src/results/capstone.json` (shipped with the `src` package). The cell below reads that file through `src.record.load_json` and prints it, with the machine and the date of the measurement; these numbers were computed by the benchmark script, not by this notebook.

# %%
import pandas as pd

from src import record

longer = record.load_json("capstone")  # read through the package, not the working directory
print(longer["setting"])
if "note" in longer:
    print(src.tr(longer["note"]["vi"], longer["note"]["en"]))
display(pd.DataFrame(longer["rows"]).drop(columns=["latency_ms", "train_seconds"], errors="ignore"))

# %% [markdown] lang="vi"
# ## Ghi nhớ
#
# - So sánh công bằng: cùng dữ liệu, cùng mạng xương sống, cùng ngân sách, cùng hạt giống; đánh giá ở chế độ `eval()`.
# - Chất lượng (mIoU, điểm F trên biên) phải đặt cạnh chi phí (tham số, FLOPs, độ trễ, bộ nhớ đỉnh); FLOPs và bộ nhớ là tất định, độ trễ thì phụ thuộc máy.
# - Các đầu ngữ cảnh (ASPP, gộp kim tự tháp) và bộ giải mã (RefineNet) tốn thêm FLOPs; SE tốn rất ít tham số; CRF không cần huấn luyện nhưng tốn thời gian suy luận và chủ yếu sửa biên.
# - Với ngân sách huấn luyện nhỏ, chênh lệch vài phần trăm có thể là nhiễu: hãy chạy lại với hạt giống khác trước khi kết luận.
#
# ## Tài liệu tham khảo
#
# - J. Long, E. Shelhamer, T. Darrell. *Fully Convolutional Networks for Semantic Segmentation*. arXiv 1411.4038.
# - L.-C. Chen, G. Papandreou, F. Schroff, H. Adam. *Rethinking Atrous Convolution for Semantic Image Segmentation*. arXiv 1706.05587.
# - H. Zhao, J. Shi, X. Qi, X. Wang, J. Jia. *Pyramid Scene Parsing Network*. arXiv 1612.01105.
# - G. Lin, A. Milan, C. Shen, I. Reid. *RefineNet: Multi-Path Refinement Networks for High-Resolution Semantic Segmentation*. arXiv 1611.06612.
# - V. Nekrasov, C. Shen, I. Reid. *Light-Weight RefineNet for Real-Time Semantic Segmentation*. arXiv 1810.03272.
# - J. Hu, L. Shen, G. Sun. *Squeeze-and-Excitation Networks*. arXiv 1709.01507.
# - A. G. Roy, N. Navab, C. Wachinger. *Concurrent Spatial and Channel Squeeze & Excitation in Fully Convolutional Networks*. arXiv 1803.02579.
# - P. Krähenbühl, V. Koltun. *Efficient Inference in Fully Connected CRFs with Gaussian Edge Potentials*. arXiv 1210.5644.

# %% [markdown] lang="en"
# ## Key takeaways
#
# - A fair comparison: same data, same backbone, same budget, same seed; evaluate in `eval()` mode.
# - Quality (mIoU, boundary F) must sit next to cost (parameters, FLOPs, latency, peak memory); FLOPs and memory are deterministic, latency depends on the machine.
# - Context heads (ASPP, pyramid pooling) and the decoder (RefineNet) cost extra FLOPs; SE costs very few parameters; the CRF needs no training but costs inference time and mostly fixes boundaries.
# - With a small training budget a gap of a few points can be noise: rerun with another seed before concluding.
#
# ## References
#
# - J. Long, E. Shelhamer, T. Darrell. *Fully Convolutional Networks for Semantic Segmentation*. arXiv 1411.4038.
# - L.-C. Chen, G. Papandreou, F. Schroff, H. Adam. *Rethinking Atrous Convolution for Semantic Image Segmentation*. arXiv 1706.05587.
# - H. Zhao, J. Shi, X. Qi, X. Wang, J. Jia. *Pyramid Scene Parsing Network*. arXiv 1612.01105.
# - G. Lin, A. Milan, C. Shen, I. Reid. *RefineNet: Multi-Path Refinement Networks for High-Resolution Semantic Segmentation*. arXiv 1611.06612.
# - V. Nekrasov, C. Shen, I. Reid. *Light-Weight RefineNet for Real-Time Semantic Segmentation*. arXiv 1810.03272.
# - J. Hu, L. Shen, G. Sun. *Squeeze-and-Excitation Networks*. arXiv 1709.01507.
# - A. G. Roy, N. Navab, C. Wachinger. *Concurrent Spatial and Channel Squeeze & Excitation in Fully Convolutional Networks*. arXiv 1803.02579.
# - P. Krähenbühl, V. Koltun. *Efficient Inference in Fully Connected CRFs with Gaussian Edge Potentials*. arXiv 1210.5644.
