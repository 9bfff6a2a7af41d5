# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
#   lesson:
#     summary:
#       vi: "CRF kết nối đầy đủ: suy luận trường trung bình, so với pydensecrf, làm sắc biên"
#       en: "The fully-connected CRF: mean-field inference, checked against pydensecrf, sharper boundaries"
# ---

# %% [markdown] lang="vi"
# # Bài 04 — CRF kết nối đầy đủ: suy luận trường trung bình bằng PyTorch
#
# **Mục tiêu của bài**
#
# 1. Hiểu vì sao DeepLab v1/v2 gắn thêm một trường ngẫu nhiên có điều kiện kết nối đầy đủ (*fully connected CRF*) sau mạng, và vì sao DeepLabv3 bỏ nó đi.
# 2. Đọc được hàm năng lượng: thế năng đơn (*unary potential*), thế năng cặp (*pairwise potential*) với nhân song phương (*bilateral / appearance kernel*) và nhân Gauss (*Gaussian / smoothness kernel*), mô hình Potts; biết mỗi tham số làm gì.
# 3. Viết một bước suy luận trường trung bình (*mean-field inference*) như một phép lọc: truyền thông điệp, biến đổi tương thích, cập nhật cục bộ, chuẩn hoá — hai bài tập có kiểm tra tự động.
# 4. So đường "chính xác" (nhân dày đặc $N \times N$) với đường "nhanh" (lưới permutohedral), và cả hai với thư viện tham chiếu `pydensecrf`.
# 5. Làm tinh (*refine*) dự đoán của một DeepLabV3 nhỏ trên ảnh ghép vân (điểm F trên biên và mIoU trước / sau CRF, đo trên 5 hạt giống ngẫu nhiên), kéo một mặt nạ thô về đúng biên vật trong ảnh thật, và tự vặn các tham số.

# %% [markdown] lang="en"
# # Lesson 04 — The fully connected CRF: mean-field inference in PyTorch
#
# **Goals**
#
# 1. Understand why DeepLab v1/v2 put a fully connected conditional random field (CRF) after the network, and why DeepLabv3 dropped it.
# 2. Read the energy: the unary potential, the pairwise potential with its bilateral (appearance) and Gaussian (smoothness) kernels, the Potts model; know what each parameter does.
# 3. Write one step of mean-field inference as filtering: message passing, compatibility transform, local update, normalisation — two exercises with automatic checks.
# 4. Compare the "exact" path (a dense $N \times N$ kernel) with the "fast" path (the permutohedral lattice), and both with the reference library `pydensecrf`.
# 5. Refine the predictions of a small DeepLabV3 on the texture mosaics (boundary F and mIoU before / after the CRF, measured over 5 seeds), pull a coarse mask onto an object's edges in a real photo, and turn the knobs yourself.

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from skimage import data as skdata
from skimage import transform

from src import checks, crf, metrics, tr, viz

src.seed_everything(0)
torch.set_num_threads(2)
device = src.get_device()


def small_photo(name, height):
    """A scikit-image photo resized to ``height`` rows, as H x W x 3 uint8."""
    img = getattr(skdata, name)()
    width = round(img.shape[1] * height / img.shape[0])
    return (transform.resize(img, (height, width), anti_aliasing=True) * 255).astype(np.uint8)


# %% [markdown] lang="vi"
# ## 1. Vì sao cần CRF sau mạng?
#
# Một mạng phân vùng ngữ nghĩa (*semantic segmentation*) kiểu DeepLab tính bản đồ đặc trưng (*feature map*) ở độ phân giải thấp (tỉ lệ giảm kích thước đầu ra, *output stride*, 8 hoặc 16) rồi phóng to bằng nội suy song tuyến (*bilinear interpolation*) lên kích thước ảnh. Kết quả: vùng đúng chỗ nhưng **biên bị nhoè, tròn và "phồng"**, vì điểm số được tính trên một lưới thô rồi nội suy, và mỗi điểm tóm tắt một trường tiếp nhận (*receptive field*) rất rộng. DeepLab v1 (Chen và cộng sự, arXiv 1412.7062) và v2 (arXiv 1606.00915) sửa việc đó bằng một bước hậu xử lý: CRF kết nối đầy đủ của Krähenbühl và Koltun (arXiv 1210.5644). CRF nhìn lại **ảnh gốc** ở độ phân giải đầy đủ và khuyến khích các điểm ảnh gần nhau, cùng màu, mang cùng nhãn — nên biên "dính" vào cạnh thật của vật.
#
# DeepLabv3 (arXiv 1706.05587) bỏ CRF: bài báo cho thấy v3, với ASPP có đặc trưng mức ảnh, batch norm và huấn luyện tốt hơn, không cần CRF mà vẫn vượt các phiên bản trước có CRF (bài báo không đo CRF còn thêm được bao nhiêu cho v3); thêm nữa, CRF là một bước không học được, chậm trên CPU và có bộ tham số riêng phải dò. DeepLabv3+ (arXiv 1802.02611) thay bằng một bộ giải mã nhẹ. Trong bài này ta tự đo xem CRF còn giúp được bao nhiêu.

# %% [markdown] lang="en"
# ## 1. Why a CRF after the network?
#
# A DeepLab-style semantic segmentation network computes its feature map at low resolution (output stride 8 or 16) and upsamples it bilinearly to the image size. The regions land in the right place but **their boundaries are blurred, rounded and "swollen"**, since the scores are computed on a coarse grid and interpolated, and each one summarises a large receptive field. DeepLab v1 (Chen et al., arXiv 1412.7062) and v2 (arXiv 1606.00915) fixed that with a post-processing step: the fully connected CRF of Krähenbühl & Koltun (arXiv 1210.5644). The CRF looks back at the **original image** at full resolution and encourages nearby pixels of similar colour to take the same label — so the boundaries "stick" to the real edges.
#
# DeepLabv3 (arXiv 1706.05587) dropped the CRF: the paper reports that v3, with ASPP plus image-level features, batch norm and better training, beats the earlier versions that used a CRF, without one (it does not measure what a CRF would still add to v3); the CRF is also a step that is not learned, slow on a CPU, with its own parameters to tune. DeepLabv3+ (arXiv 1802.02611) uses a light decoder instead. In this lesson we measure for ourselves how much a CRF still helps.

# %% [markdown] lang="vi"
# ## 2. Hàm năng lượng
#
# Gọi $x = (x_1, \dots, x_N)$ là nhãn của $N$ điểm ảnh. CRF kết nối đầy đủ gán cho mỗi cách gán nhãn một năng lượng
#
# $$E(x) = \sum_i \psi_u(x_i) + \sum_{i<j} \psi_p(x_i, x_j), \qquad \psi_u(x_i) = -\log P(x_i),$$
#
# trong đó $P$ là đầu ra softmax của mạng (thế năng đơn), và **mọi cặp** điểm ảnh đều có thế năng cặp
#
# $$\psi_p(x_i, x_j) = \mu(x_i, x_j)\Big[\underbrace{w_1 \exp\!\Big(-\frac{\lVert p_i-p_j\rVert^2}{2\theta_\alpha^2} - \frac{\lVert I_i-I_j\rVert^2}{2\theta_\beta^2}\Big)}_{\text{nhân song phương (ngoại hình)}} + \underbrace{w_2 \exp\!\Big(-\frac{\lVert p_i-p_j\rVert^2}{2\theta_\gamma^2}\Big)}_{\text{nhân Gauss (độ trơn)}}\Big],$$
#
# với $p$ là toạ độ điểm ảnh, $I$ là màu RGB, và $\mu$ là mô hình Potts: $\mu(l, l') = [l \ne l']$ — hai điểm "giống nhau" mà mang nhãn khác nhau thì bị phạt.
#
# | tham số | trong `dense_crf` | tác dụng |
# |---|---|---|
# | $w_1$ | `bilateral_weight` (10) | độ mạnh của nhân song phương: kéo các điểm cùng màu về cùng nhãn |
# | $\theta_\alpha$ | `theta_alpha` (80) | tầm không gian của nhân song phương (điểm ảnh) |
# | $\theta_\beta$ | `theta_beta` (13) | thế nào là "cùng màu": nhỏ thì chỉ màu rất gần mới được tính |
# | $w_2$ | `gaussian_weight` (3) | độ mạnh của nhân Gauss: xoá các đốm nhỏ lẻ loi |
# | $\theta_\gamma$ | `theta_gamma` (3) | tầm của nhân Gauss, thường chỉ vài điểm ảnh |
#
# Các giá trị mặc định (cùng 5 vòng lặp) là giá trị trong ví dụ của Krähenbühl (tệp `dense_inference.cpp` đi kèm mã C++ của ông: `addPairwiseGaussian(3, 3, PottsCompatibility(3))`, `addPairwiseBilateral(80, 80, 13, 13, 13, im, PottsCompatibility(10))`), được ví dụ `examples/inference.py` của `pydensecrf` chép lại, cho ảnh chụp cỡ vài trăm điểm ảnh. DeepLab tự dò bộ tham số của mình, và các giá trị nó phát hành khác hẳn: kịch bản `run_densecrf.sh` của DeepLab v1 (mô hình `vgg128_noup`) dùng $w_1 = 5$, $\theta_\alpha = 50$, $\theta_\beta = 3$, $w_2 = 3$, $\theta_\gamma = 3$ và 10 vòng lặp; bộ cho DeepLab v2 ResNet-101 trên PASCAL VOC là $w_1 = 4$, $\theta_\alpha = 67$, $\theta_\beta = 3$, $w_2 = 3$, $\theta_\gamma = 1$, 10 vòng lặp. Chúng tôi đọc hai bộ này từ bản sao trên GitHub, không phải từ kho gốc: `TheLegendAli/DeepLab-Context` (tệp `run_densecrf.sh`, trong một dự án dựng trên mã công khai của DeepLab v1) và bản cài đặt lại `kazuto1011/deeplab-pytorch` (tệp `configs/voc12.yaml`). Năng lượng $E$ không cực tiểu hoá trực tiếp được ($L^N$ cách gán nhãn), nên ta đi tìm một phân phối xấp xỉ.

# %% [markdown] lang="en"
# ## 2. The energy
#
# Let $x = (x_1, \dots, x_N)$ be the labels of the $N$ pixels. The fully connected CRF gives every labelling an energy
#
# $$E(x) = \sum_i \psi_u(x_i) + \sum_{i<j} \psi_p(x_i, x_j), \qquad \psi_u(x_i) = -\log P(x_i),$$
#
# where $P$ is the network's softmax output (the unary), and **every pair** of pixels has a pairwise potential
#
# $$\psi_p(x_i, x_j) = \mu(x_i, x_j)\Big[\underbrace{w_1 \exp\!\Big(-\frac{\lVert p_i-p_j\rVert^2}{2\theta_\alpha^2} - \frac{\lVert I_i-I_j\rVert^2}{2\theta_\beta^2}\Big)}_{\text{bilateral (appearance) kernel}} + \underbrace{w_2 \exp\!\Big(-\frac{\lVert p_i-p_j\rVert^2}{2\theta_\gamma^2}\Big)}_{\text{Gaussian (smoothness) kernel}}\Big],$$
#
# with $p$ the pixel position, $I$ its RGB colour, and $\mu$ the Potts model $\mu(l, l') = [l \ne l']$: two "similar" pixels with different labels pay a penalty.
#
# | parameter | in `dense_crf` | what it does |
# |---|---|---|
# | $w_1$ | `bilateral_weight` (10) | strength of the bilateral kernel: pulls pixels of similar colour to the same label |
# | $\theta_\alpha$ | `theta_alpha` (80) | spatial reach of the bilateral kernel (pixels) |
# | $\theta_\beta$ | `theta_beta` (13) | what "similar colour" means: small means only very close colours count |
# | $w_2$ | `gaussian_weight` (3) | strength of the Gaussian kernel: removes small isolated specks |
# | $\theta_\gamma$ | `theta_gamma` (3) | reach of the Gaussian kernel, usually a few pixels |
#
# The defaults (with 5 iterations) are Krähenbühl's example values (the `dense_inference.cpp` that ships with his C++ code: `addPairwiseGaussian(3, 3, PottsCompatibility(3))`, `addPairwiseBilateral(80, 80, 13, 13, 13, im, PottsCompatibility(10))`), copied by `pydensecrf`'s `examples/inference.py`, for photos a few hundred pixels wide. DeepLab tuned its own, and its released values are quite different: DeepLab v1's `run_densecrf.sh` (model `vgg128_noup`) uses $w_1 = 5$, $\theta_\alpha = 50$, $\theta_\beta = 3$, $w_2 = 3$, $\theta_\gamma = 3$ and 10 iterations; the set for DeepLab v2 ResNet-101 on PASCAL VOC is $w_1 = 4$, $\theta_\alpha = 67$, $\theta_\beta = 3$, $w_2 = 3$, $\theta_\gamma = 1$, 10 iterations. We read both from copies on GitHub, not from the original repositories: `TheLegendAli/DeepLab-Context` (file `run_densecrf.sh`, in a project built on DeepLab v1's public code) and the re-implementation `kazuto1011/deeplab-pytorch` (file `configs/voc12.yaml`). $E$ cannot be minimised directly ($L^N$ labellings), so we look for an approximate distribution instead.

# %% [markdown] lang="vi"
# ## 3. Suy luận trường trung bình = lọc lặp lại
#
# Trường trung bình xấp xỉ phân phối $P(x) \propto e^{-E(x)}$ bằng một tích $Q(x) = \prod_i Q_i(x_i)$. Cực tiểu hoá KL$(Q\,\|\,P)$ dẫn tới phép cập nhật (Krähenbühl và Koltun, thuật toán 1):
#
# 1. **Truyền thông điệp** (*message passing*): $\tilde Q^{(m)}_i(l) = \sum_{j} k^{(m)}(f_i, f_j)\, Q_j(l)$ — lọc từng "ảnh xác suất" $Q(l)$ bằng nhân $m$.
# 2. **Biến đổi tương thích** (*compatibility transform*): $\hat Q_i(l) = \sum_{l'} \mu(l, l') \sum_m w^{(m)} \tilde Q^{(m)}_i(l')$. Với Potts: $\hat Q_i(l) = \sum_m w^{(m)} \big(\sum_{l'} \tilde Q^{(m)}_i(l') - \tilde Q^{(m)}_i(l)\big)$.
# 3. **Cập nhật cục bộ**: $\breve Q_i(l) = -\psi_u(x_i = l) - \hat Q_i(l)$.
# 4. **Chuẩn hoá**: $Q_i = \operatorname{softmax}(\breve Q_i)$.
#
# Bước 1 là một phép lọc Gauss trong không gian đặc trưng $f = (x/\theta_\alpha, y/\theta_\alpha, r/\theta_\beta, g/\theta_\beta, b/\theta_\beta)$ (song phương) hoặc $f = (x/\theta_\gamma, y/\theta_\gamma)$ (Gauss): $k(f_i, f_j) = \exp(-\lVert f_i - f_j\rVert^2/2)$. Giống `pydensecrf`, ta chuẩn hoá nhân đối xứng, $D^{-1/2} K D^{-1/2}$ với $D = \operatorname{diag}(K\mathbf 1)$, và giữ cả số hạng $j = i$ (bộ lọc nhanh cũng tính nó). Đường **chính xác** dựng hẳn ma trận $N\times N$: $O(N^2)$ bộ nhớ và phép tính, chỉ hợp với ảnh nhỏ. Ta xem từng bước trên một ảnh $40 \times 60$.

# %% [markdown] lang="en"
# ## 3. Mean-field inference = repeated filtering
#
# Mean field approximates $P(x) \propto e^{-E(x)}$ by a product $Q(x) = \prod_i Q_i(x_i)$. Minimising KL$(Q\,\|\,P)$ gives the update (Krähenbühl & Koltun, algorithm 1):
#
# 1. **Message passing**: $\tilde Q^{(m)}_i(l) = \sum_{j} k^{(m)}(f_i, f_j)\, Q_j(l)$ — filter every "probability image" $Q(l)$ with kernel $m$.
# 2. **Compatibility transform**: $\hat Q_i(l) = \sum_{l'} \mu(l, l') \sum_m w^{(m)} \tilde Q^{(m)}_i(l')$. For Potts: $\hat Q_i(l) = \sum_m w^{(m)} \big(\sum_{l'} \tilde Q^{(m)}_i(l') - \tilde Q^{(m)}_i(l)\big)$.
# 3. **Local update**: $\breve Q_i(l) = -\psi_u(x_i = l) - \hat Q_i(l)$.
# 4. **Normalisation**: $Q_i = \operatorname{softmax}(\breve Q_i)$.
#
# Step 1 is Gaussian filtering in the feature space $f = (x/\theta_\alpha, y/\theta_\alpha, r/\theta_\beta, g/\theta_\beta, b/\theta_\beta)$ (bilateral) or $f = (x/\theta_\gamma, y/\theta_\gamma)$ (Gaussian): $k(f_i, f_j) = \exp(-\lVert f_i - f_j\rVert^2/2)$. As `pydensecrf` does, we normalise the kernel symmetrically, $D^{-1/2} K D^{-1/2}$ with $D = \operatorname{diag}(K\mathbf 1)$, and keep the $j = i$ term (the fast filter includes it too). The **exact** path builds the $N\times N$ matrix: $O(N^2)$ memory and work, fine for small images only. Let us look at each step on a $40 \times 60$ image.

# %%
# NBVAL_CHECK_OUTPUT
tiny = small_photo("coffee", 40)
h, w = tiny.shape[:2]
prior = crf.ellipse_prior(h, w, center=(0.45, 0.5), radii=(0.4, 0.33))  # 2 x H x W: background, object
unary = crf.unary_from_probs(prior.reshape(2, -1))  # C x N
q = torch.softmax(-unary, 0)
k_bil = crf.gaussian_kernel_matrix(crf.pixel_features(torch.from_numpy(tiny), 40.0, 20.0))
k_gau = crf.gaussian_kernel_matrix(crf.pixel_features(torch.from_numpy(tiny), 3.0))
print("N =", h * w, "| kernel matrices:", tuple(k_bil.shape), tuple(k_gau.shape))

# %%
msg_bil, msg_gau = q @ k_bil.T, q @ k_gau.T  # 1. message passing
pairwise = crf.potts_transform(msg_bil, 5.0) + crf.potts_transform(msg_gau, 3.0)  # 2. compatibility
q_new = torch.softmax(-unary - pairwise, 0)  # 3. local update + 4. normalisation
panels = [
    (tiny, tr("ảnh", "image")),
    (q[1], tr("Q(vật) ban đầu", "initial Q(object)")),
    (msg_bil[1], tr("thông điệp song phương", "bilateral message")),
    (msg_gau[1], tr("thông điệp Gauss", "Gaussian message")),
    (-pairwise[1], tr("−thế năng cặp (vật)", "−pairwise (object)")),
    (q_new[1], tr("Q(vật) sau 1 bước", "Q(object) after 1 step")),
]
fig, axes = plt.subplots(1, 6, figsize=(12, 1.9))
for ax, (img, title) in zip(axes, panels):
    ax.imshow(img if img.ndim == 3 else img.reshape(h, w), cmap=None if img.ndim == 3 else "viridis")
    ax.set_title(title, fontsize=8)
    ax.set_axis_off()
fig.tight_layout()

# %% [markdown] lang="vi"
# Thông điệp song phương "chảy" theo màu: nó lan ra trong vùng đĩa và chén nhưng dừng lại ở cạnh giữa đĩa và mặt bàn. Thông điệp Gauss chỉ làm mượt vài điểm ảnh. Sau một bước, Q(vật) đã bắt đầu theo hình chiếc đĩa thay vì hình elip.
#
# ### Bài tập 04-1 — Biến đổi tương thích Potts
#
# Viết `potts_transform(messages, weight)`: `messages` là tensor $C \times N$ (thông điệp của một nhân), trả về $C \times N$ với
# $\text{out}[l] = w \sum_{l' \ne l} \text{messages}[l']$.

# %% [markdown] lang="en"
# The bilateral message "flows" along colour: it spreads over the saucer and cup but stops at the edge between saucer and table. The Gaussian message only smooths over a few pixels. After one step, Q(object) already starts to follow the saucer rather than the ellipse.
#
# ### Exercise 04-1 — The Potts compatibility transform
#
# Write `potts_transform(messages, weight)`: `messages` is a $C \times N$ tensor (the messages of one kernel); return the $C \times N$ tensor with
# $\text{out}[l] = w \sum_{l' \ne l} \text{messages}[l']$.


# %%
def potts_transform(messages, weight):
    ### BEGIN SOLUTION
    return weight * (messages.sum(0, keepdim=True) - messages)
    ### END SOLUTION


# %%
result = checks.check_potts_transform(potts_transform)

# %% [markdown] lang="vi"
# *Ghi chú.* `pydensecrf` tính $-w\,\tilde Q(l)$ thay vì $w\sum_{l' \ne l}\tilde Q(l')$. Hai cách chỉ khác nhau một lượng $w \sum_{l'} \tilde Q(l')$ **giống nhau cho mọi nhãn** tại mỗi điểm ảnh, và softmax ở bước 4 xoá lượng đó — `tests/test_crf.py` kiểm tra định luật này bằng hypothesis.
#
# ### Bài tập 04-2 — Một bước trường trung bình với nhân chính xác
#
# Viết `mean_field_step(unary, q, kernels, weights)`: `unary` và `q` là $C \times N$; `kernels` là danh sách ma trận $N \times N$ đã chuẩn hoá; `weights` là danh sách trọng số tương ứng. Trả về $Q$ mới ($C \times N$) theo bốn bước ở mục 3. Dùng `crf.potts_transform` (tham chiếu) cho bước 2.

# %% [markdown] lang="en"
# *Note.* `pydensecrf` computes $-w\,\tilde Q(l)$ instead of $w\sum_{l' \ne l}\tilde Q(l')$. The two differ by $w \sum_{l'} \tilde Q(l')$, **the same for every label** at a pixel, and the softmax of step 4 removes it — `tests/test_crf.py` checks this law with hypothesis.
#
# ### Exercise 04-2 — One mean-field step with the exact kernel
#
# Write `mean_field_step(unary, q, kernels, weights)`: `unary` and `q` are $C \times N$; `kernels` is a list of normalised $N \times N$ matrices; `weights` the matching list of weights. Return the new $Q$ ($C \times N$) following the four steps of section 3. Use `crf.potts_transform` (the reference) for step 2.


# %%
def mean_field_step(unary, q, kernels, weights):
    ### BEGIN SOLUTION
    pairwise = torch.zeros_like(q)
    for kernel, weight in zip(kernels, weights):
        pairwise = pairwise + crf.potts_transform(q @ kernel.T, weight)
    return torch.softmax(-unary - pairwise, dim=0)
    ### END SOLUTION


# %%
result = checks.check_mean_field_step(mean_field_step)

# %% [markdown] lang="vi"
# `crf.dense_crf(..., method="exact")` chỉ là bước này lặp lại `iterations` lần (bắt đầu từ $Q = \operatorname{softmax}(-\psi_u)$). Ô dưới kiểm tra điều đó với lời giải tham chiếu.

# %% [markdown] lang="en"
# `crf.dense_crf(..., method="exact")` is just this step repeated `iterations` times (starting from $Q = \operatorname{softmax}(-\psi_u)$). The cell below checks that with the reference solution.

# %%
# NBVAL_CHECK_OUTPUT
params = dict(bilateral_weight=5.0, theta_alpha=40.0, theta_beta=20.0, gaussian_weight=3.0, theta_gamma=3.0)
q_loop = torch.softmax(-unary, 0)
for _ in range(5):
    q_loop = crf.mean_field_step(unary, q_loop, [k_gau, k_bil], [3.0, 5.0])
q_lib = crf.dense_crf(tiny, prior, iterations=5, method="exact", **params).reshape(2, -1)
print(
    tr("5 bước tự lặp == dense_crf(exact):", "5 hand-made steps == dense_crf(exact):"),
    torch.allclose(q_loop, q_lib, atol=1e-5),
)

# %% [markdown] lang="vi"
# ## 4. Đường nhanh: lưới permutohedral
#
# Với ảnh $320 \times 240$, $N = 76\,800$ và ma trận $N \times N$ cần khoảng 23 GB — không dùng được. Krähenbühl và Koltun thay phép lọc chính xác bằng **lưới permutohedral** (Adams, Baek và Davis, 2010): mỗi điểm ảnh được "rải" (*splat*) lên $d+1$ đỉnh của đơn hình chứa nó trong một lưới $d$ chiều, lưới được làm mờ bằng khuôn $[\tfrac12, 1, \tfrac12]$ dọc $d+1$ hướng, rồi giá trị được "cắt" (*slice*) về lại các điểm ảnh. Chi phí $O(N d^2)$ thay cho $O(N^2)$. `src.permutohedral` cài đặt đúng từng bước như mã C++ trong `pydensecrf`, viết bằng phép toán tensor (rải, làm mờ, cắt là ba phép nhân ma trận thưa), nên chạy được trên GPU. Trên CPU, phần dựng lưới mặc định là hai vòng lặp qua các điểm ảnh với một bảng băm, như mã C++, được numba biên dịch (`src/_lattice_numba.py`); nó cho đúng lưới mà cách dựng bằng tensor cho (`tests/test_permutohedral.py` kiểm tra), còn cách dựng bằng tensor là bản để đọc và là bản dự phòng khi không có numba.
#
# Cái giá: lưới chỉ **xấp xỉ** nhân Gauss (hình dạng hơi khác, đuôi bị cắt cụt), nên đường nhanh và đường chính xác cho kết quả gần nhau chứ không bằng nhau. `method="auto"` chọn đường chính xác khi ảnh có tối đa `crf.EXACT_MAX_PIXELS` điểm ảnh, đường nhanh khi lớn hơn; `method=` cho phép ép một trong hai. (Một cách khác là ConvCRF, arXiv 1805.04777: chỉ truyền thông điệp trong một cửa sổ cục bộ, tức là cắt bỏ nhân ở xa — ta không dùng cách này.)
#
# Bảng dưới so ba cách trên một ảnh thật $60 \times 90$: tỉ lệ điểm ảnh có cùng nhãn (argmax) và sai khác lớn nhất của xác suất.

# %% [markdown] lang="en"
# ## 4. The fast path: the permutohedral lattice
#
# For a $320 \times 240$ image, $N = 76\,800$ and the $N \times N$ matrix needs about 23 GB — out of the question. Krähenbühl & Koltun replace exact filtering with the **permutohedral lattice** (Adams, Baek & Davis, 2010): each pixel is *splatted* onto the $d+1$ vertices of the simplex that contains it in a $d$-dimensional lattice, the lattice is blurred with a $[\tfrac12, 1, \tfrac12]$ stencil along $d+1$ directions, and the values are *sliced* back at the pixels. The cost is $O(N d^2)$ instead of $O(N^2)$. `src.permutohedral` implements the same steps as the C++ code inside `pydensecrf`, in tensor operations (splat, blur and slice are three sparse matrix products), so it also runs on a GPU. On the CPU the lattice is built by default with two loops over the pixels and a hash table, as the C++ code does, compiled by numba (`src/_lattice_numba.py`); it gives exactly the lattice the tensor build gives (`tests/test_permutohedral.py` checks), and the tensor build stays as the version to read and the fallback without numba.
#
# The price: the lattice only **approximates** the Gaussian kernel (a slightly different shape, a truncated tail), so the fast and exact paths give close but not equal results. `method="auto"` picks the exact path up to `crf.EXACT_MAX_PIXELS` pixels and the fast one above; `method=` forces either. (Another option is ConvCRF, arXiv 1805.04777: pass messages only inside a local window, i.e. cut the kernel's far part off — we do not use it.)
#
# The table below compares the three on a real $60 \times 90$ photo: the share of pixels with the same label (argmax) and the largest difference in probability.

# %%
photo_small = small_photo("coffee", 60)
prior_small = crf.ellipse_prior(*photo_small.shape[:2], center=(0.45, 0.5), radii=(0.4, 0.33))
ours = {m: crf.dense_crf(photo_small, prior_small, method=m, **params) for m in ("exact", "fast")}
try:
    import pydensecrf.densecrf as dcrf

    c, hh, ww = prior_small.shape
    ref_model = dcrf.DenseCRF2D(ww, hh, c)
    ref_model.setUnaryEnergy(np.ascontiguousarray(crf.unary_from_probs(prior_small).reshape(c, -1).numpy()))
    ref_model.addPairwiseGaussian(sxy=params["theta_gamma"], compat=params["gaussian_weight"])
    ref_model.addPairwiseBilateral(
        sxy=params["theta_alpha"], srgb=params["theta_beta"], rgbim=photo_small, compat=params["bilateral_weight"]
    )
    ours["pydensecrf"] = torch.tensor(np.array(ref_model.inference(5))).reshape(c, hh, ww)
except ImportError:
    print(
        tr(
            "Không có pydensecrf (bản dựng từ mã nguồn thất bại?): bỏ qua phần so sánh với nó.",
            "pydensecrf is not installed (did its build from source fail?): skipping the comparison with it.",
        )
    )
pairs = [(a, b) for a in ours for b in ours if a < b]
print(  # decimal commas in Vietnamese
    src.decimal_commas(
        pd.DataFrame(
            [
                {
                    tr("cặp", "pair"): f"{a} / {b}",
                    tr("nhãn trùng", "labels agree"): f"{(ours[a].argmax(0) == ours[b].argmax(0)).float().mean():.2%}",
                    tr("|ΔQ| lớn nhất", "max |ΔQ|"): f"{(ours[a] - ours[b]).abs().max():.1e}",
                }
                for a, b in pairs
            ]
        ).to_string(index=False)
    )
)

# %% [markdown] lang="vi"
# Đường nhanh của ta và `pydensecrf` dùng cùng một bộ lọc nên khớp gần như tuyệt đối (sai khác cỡ sai số làm tròn float32); đường chính xác khác chúng ở một phần nhỏ điểm ảnh (cột "nhãn trùng" ở bảng trên), dù ở vài chỗ xác suất lệch khá xa (cột "$|\Delta Q|$ lớn nhất"), vì nó tính đúng nhân Gauss.
#
# ### Tốc độ: lưới permutohedral bằng PyTorch so với mã C++ của `pydensecrf`
#
# `benchmarks/bench_crf.py` chạy cả hai trên ảnh `coffee` ở ba kích thước, với 5 và 21 nhãn (21 là số lớp của VOC), 5 vòng lặp. Máy đo là máy dùng chung, nên hai bên được đo **xen kẽ, cạnh nhau** trong cùng một tiến trình: mỗi lượt chạy cả hai, lấy tỉ số thời gian (của ta / `pydensecrf`) của lượt đó, rồi báo trung vị qua các lượt cùng hai tứ phân vị. `pydensecrf` chạy một luồng; tên cột cho biết cách đo của ta: `cold:T` là "lạnh" (dựng cả hai lưới mỗi lần, như `pydensecrf`) với T luồng torch, `warm:T` là "ấm" (lưới của nhân Gauss chỉ phụ thuộc kích thước ảnh và $\theta_\gamma$, nên được dùng lại cho các ảnh cùng cỡ). Đuôi `:tensor` nghĩa là dựng lưới bằng phép toán tensor thay vì vòng lặp đã biên dịch: cột đó là cách dựng trước khi có bản biên dịch, đo cạnh nhau trong cùng các lượt. Dòng cuối in thời điểm đo và tải của máy lúc đó: trên một máy bận, hãy chạy lại `python benchmarks/bench_crf.py` khi máy rảnh (`--variants` chọn các cách đo). Tỉ số dưới 1 nghĩa là ta nhanh hơn. Ô dưới đọc kết quả đã ghi (`src/results/crf_speed.json`), không đo lại; cột "nhãn trùng" là tỉ lệ điểm ảnh có cùng nhãn (argmax) với `pydensecrf`.

# %% [markdown] lang="en"
# Our fast path and `pydensecrf` use the same filter and match almost perfectly (differences at float32 rounding level); the exact path differs from them on a small share of pixels (the "labels agree" column above), though in places its probabilities differ a lot (the "max $|\Delta Q|$" column), because it computes the true Gaussian kernel.
#
# ### Speed: the permutohedral lattice in PyTorch against `pydensecrf`'s C++
#
# `benchmarks/bench_crf.py` runs both on the `coffee` photo at three sizes, with 5 and 21 labels (21 is VOC's class count), 5 iterations. The machine is shared, so the two are timed **side by side, alternating**, in one process: each round runs both, takes that round's time ratio (ours / `pydensecrf`), and the median over the rounds is reported with its quartiles. `pydensecrf` runs on one thread; the column names say how ours was timed: `cold:T` is "cold" (both lattices built every call, as `pydensecrf` does) on T torch threads, `warm:T` is "warm" (the Gaussian kernel's lattice depends only on the image size and $\theta_\gamma$, so it is reused for images of one size). A `:tensor` suffix builds the lattices with tensor operations instead of the compiled loops: that column is the build before the compiled one, timed side by side in the same rounds. The last lines print when it was measured and the machine's load then: on a busy machine, rerun `python benchmarks/bench_crf.py` when it is idle (`--variants` picks the ways to time it). A ratio below 1 means ours is faster. The cell below reads the recorded result (`src/results/crf_speed.json`) rather than measuring again; "labels agree" is the share of pixels with the same label (argmax) as `pydensecrf`.

# %%
import statistics

from src import record

speed = record.load("crf_speed")
bench, variants = speed.data["benchmark"], speed.data["config"]["variants"]


def ratio_cell(r):
    """Median ratio [first quartile; third quartile]."""
    return " ".join(
        [
            record.format_number(r["ratio_median"], 2),
            f"[{record.format_number(r['ratio_q1'], 2)};",
            f"{record.format_number(r['ratio_q3'], 2)}]",
        ]
    )


table = []
for row in bench["rows"] + (bench["gpu"] or {"rows": []})["rows"]:
    cells = {tr("kích thước", "size"): f"{row['width']}x{row['height']}", tr("nhãn", "labels"): row["labels"]}
    cells["pydensecrf (s)"] = record.format_number(statistics.median(row["pydensecrf_s"]), 3)
    for v in variants if "cuda" not in row else ["cuda"]:
        cells[tr("tỉ số ", "ratio ") + v] = ratio_cell(row[v])
    cells[tr("nhãn trùng", "labels agree")] = (
        record.format_number(100 * row[variants[0] if "cuda" not in row else "cuda"]["agree"], 2) + " %"
    )
    table.append(cells)
if bench["gpu"] is None:
    table.append(
        {
            tr("kích thước", "size"): "GPU",
            tr("nhãn", "labels"): "—",
            "pydensecrf (s)": "—",
            tr("tỉ số ", "ratio ") + variants[0]: tr("chưa đo", "not measured"),
        }
    )
print(pd.DataFrame(table).fillna("—").to_string(index=False))
machine = bench["machine"]
print(
    tr(
        f"Đo lúc {bench['measured']}, {speed.data['config']['rounds']} lượt mỗi dòng, {machine['cpus']} lõi CPU, tải trung bình {record.format_number(machine['load_average_before'], 1)} lúc bắt đầu.",
        f"Measured {bench['measured']}, {speed.data['config']['rounds']} rounds per row, {machine['cpus']} CPU cores, load average {record.format_number(machine['load_average_before'], 1)} at the start.",
    )
)
print(
    tr("Nhãn trùng với pydensecrf (ảnh 320x240):", "Labels agree with pydensecrf (320x240 images):"),
    ", ".join(f"{k} {record.format_number(100 * v, 2)} %" for k, v in bench["agreement"].items()),
)

# %% [markdown] lang="vi"
# Thời gian đi đâu? Ô dưới tách phần dựng (kiểm tra đầu vào, thế năng đơn, dựng hai lưới: `iterations=0`) khỏi toàn bộ lần chạy, ở $320 \times 240$, một luồng, lạnh; và vẽ thời gian theo số điểm ảnh trên trục log-log. Lưới permutohedral có chi phí $O(N)$: độ dốc log-log gần 1 là đúng dự đoán đó; độ dốc theo số nhãn cho biết phần việc tỉ lệ với số nhãn (lọc) lớn cỡ nào so với phần không phụ thuộc nhãn (dựng lưới).

# %% [markdown] lang="en"
# Where does the time go? The cell below separates the set-up (input checks, unary, building both lattices: `iterations=0`) from the whole run, at $320 \times 240$, one thread, cold; and plots time against the number of pixels on log-log axes. The permutohedral lattice costs $O(N)$: a log-log slope near 1 is that prediction; the slope against the number of labels tells how large the part proportional to the labels (filtering) is next to the part that does not depend on them (building the lattices).

# %%
split = pd.DataFrame(bench["time_split_s"]).T
split.index.name = tr("nhãn", "labels")
split.columns = [
    (tr("của ta", "ours") if who == "ours" else "pydensecrf")
    + ": "
    + (tr("dựng", "set-up") if part == "setup" else tr("tổng", "total"))
    for who, part in (c.split("_") for c in split.columns)
]
print(split.map(lambda v: record.format_number(1000 * v, 0) + " ms").to_string())
slopes = pd.DataFrame(bench["growth"]).T
slopes.columns = [
    tr(f"theo N, {c.split('_')[2]} nhãn", f"vs N, {c.split('_')[2]} labels")
    if c.startswith("pixels")
    else tr(f"theo số nhãn, {c.split('_')[2]}", f"vs labels, {c.split('_')[2]}")
    for c in slopes.columns
]
print(tr("Số mũ: thời gian ~ (số điểm ảnh)^a, hoặc ~ (số nhãn)^a", "Exponents: time ~ (pixels)^a, or ~ (labels)^a"))
print(slopes.map(lambda v: record.format_number(v, 2)).to_string())

fig, ax = plt.subplots(figsize=(6, 4))
for labels, marker in ((5, "o"), (21, "s")):
    rows_l = [r for r in bench["rows"] if r["labels"] == labels]
    pixels = [r["pixels"] for r in rows_l]
    ax.plot(
        pixels,
        [statistics.median(r["pydensecrf_s"]) for r in rows_l],
        marker=marker,
        ls="--",
        color="gray",
        label=f"pydensecrf, {labels} " + tr("nhãn", "labels"),
    )
    ax.plot(
        pixels,
        [statistics.median(r[variants[0]]["seconds"]) for r in rows_l],
        marker=marker,
        color="C0" if labels == 5 else "C1",
        label=tr("của ta", "ours") + f" ({variants[0]}), {labels} " + tr("nhãn", "labels"),
    )
ax.set(
    xscale="log",
    yscale="log",
    xlabel=tr("số điểm ảnh N", "pixels N"),
    ylabel=tr("giây (trung vị)", "seconds (median)"),
    title=tr("CRF dày đặc, 5 vòng lặp", "dense CRF, 5 iterations"),
)
ax.legend(fontsize=8)
plt.show()

# %% [markdown] lang="vi"
# ## 5. Ảnh thật: kéo một mặt nạ thô về biên vật
#
# Thế năng đơn ở đây chỉ là một hình elip mờ quanh chiếc chén: nó biết vật ở *đâu*, không biết biên ở *đâu*. Ta chạy CRF (đường nhanh) trên ảnh $160 \times 240$.

# %% [markdown] lang="en"
# ## 5. A real photo: pulling a coarse mask onto the object's edges
#
# The unary here is only a blurred ellipse around the cup: it knows *where* the object is, not where its edges are. We run the CRF (fast path) on a $160 \times 240$ image.

# %%
photo = small_photo("coffee", 160)
prior_photo = crf.ellipse_prior(*photo.shape[:2], center=(0.45, 0.5), radii=(0.4, 0.33))
photo_params = dict(params, iterations=10)
refined = crf.dense_crf(torch.from_numpy(photo).to(device), prior_photo.to(device), **photo_params).cpu()


def show_refinement(image, before, after, title=None, axes=None):
    """Image with the 0.5 contour of the prior (dashed) and of the CRF result (solid)."""
    if axes is None:
        _, axes = plt.subplots(1, 3, figsize=(9, 2.4))
    axes[0].imshow(image)
    axes[0].contour(before[1] > 0.5, [0.5], colors="yellow", linestyles="--", linewidths=1)
    axes[0].contour(after.argmax(0), [0.5], colors="red", linewidths=1)
    axes[0].set_title(title or tr("vàng: trước, đỏ: sau CRF", "yellow: before, red: after CRF"), fontsize=8)
    axes[1].imshow(before[1], vmin=0, vmax=1, cmap="viridis")
    axes[1].set_title(tr("P(vật) ban đầu", "initial P(object)"), fontsize=8)
    axes[2].imshow(after[1], vmin=0, vmax=1, cmap="viridis")
    axes[2].set_title(tr("Q(vật) sau CRF", "Q(object) after CRF"), fontsize=8)
    for ax in axes:
        ax.set_axis_off()


show_refinement(photo, prior_photo, refined)

# %% [markdown] lang="vi"
# Biên đỏ bám theo mép đĩa và miệng chén — những chỗ màu đổi đột ngột — chứ không còn là hình elip. Nó cũng cho thấy giới hạn của CRF: nó chỉ biết màu và vị trí, nên một vùng cùng màu với vật (bóng đổ, mặt bàn sẫm) có thể bị kéo theo.
#
# ## 6. Làm tinh dự đoán của DeepLabV3 trên ảnh ghép vân: một thí nghiệm có hạt giống
#
# Ta huấn luyện một DeepLabV3 nhỏ (mạng xương sống `tiny`, tỉ lệ giảm kích thước đầu ra 16, nên bản đồ đặc trưng chỉ $4 \times 4$ với ảnh 64 điểm ảnh: biên rất thô; hệ số giãn của ASPP thu nhỏ theo bản đồ thành (1, 2, 3) như bài 02 dạy, vì với (6, 12, 18) trên bản đồ $4\times4$, mỗi nhánh $3\times3$ chỉ còn điểm lấy mẫu ở tâm nằm trong bản đồ), rồi chạy CRF (đường nhanh) trên đầu ra của nó ở tập kiểm định và so điểm F trên biên (*boundary F-score*, dung sai 2 điểm ảnh) và mIoU trước và sau CRF. Hai nhóm "trước" và "sau" đến từ **cùng một** mạng đã huấn luyện: CRF chỉ là bước hậu xử lý.
#
# `experiments/crf_gain.py` đã lặp lại thí nghiệm này với 5 hạt giống ngẫu nhiên (*seed*) và ghi kết quả vào `src/results/crf_gain.json`. Ô dưới chạy một phiên bản nhỏ hơn (hạt giống 0, ít ảnh huấn luyện và ít epoch hơn; trên GPU hoặc với `SRC_FULL=1` thì chạy đúng giao thức đã ghi) và đặt con số của nó cạnh trung bình ± độ lệch chuẩn đã ghi, cùng thống kê t của Welch và phép so sánh ghép cặp (*paired comparison*) theo từng hạt giống.

# %% [markdown] lang="en"
# The red boundary follows the rim of the saucer and the cup — where the colour changes abruptly — instead of the ellipse. It also shows the CRF's limit: it knows only colour and position, so a region with the object's colour (a shadow, the dark table) can be dragged along.
#
# ## 6. Refining DeepLabV3's predictions on the texture mosaics: an experiment with seeds
#
# We train a small DeepLabV3 (the `tiny` backbone, output stride 16, so the feature map is only $4 \times 4$ on 64-pixel images: very coarse boundaries; the ASPP rates are scaled down with the map to (1, 2, 3), as lesson 02 teaches, since (6, 12, 18) on a $4\times4$ map would keep only the centre tap of each $3\times3$ branch inside the map), run the CRF (fast path) on its validation outputs, and compare the boundary F-score (tolerance 2 pixels) and mIoU before and after the CRF. Both groups, "before" and "after", come from **one** trained network: the CRF is only a post-processing step.
#
# `experiments/crf_gain.py` repeated this experiment over 5 seeds and stored the result in `src/results/crf_gain.json`. The cell below runs a smaller version (seed 0, fewer training images and epochs; on a GPU or with `SRC_FULL=1`, the recorded protocol itself) and shows its numbers next to the recorded mean ± std, Welch's t statistic and the paired, seed-by-seed comparison.

# %%
from src import claims, crf_gain

src.seed_everything(0)
scale = 1.0 if claims.full_protocol() else crf_gain.LIVE_SCALE
live, outputs = crf_gain.run(seed=0, scale=scale, device=device, return_outputs=True)
val, probs, refined_probs = outputs["dataset"], outputs["probs"], outputs["refined"]
masks = torch.from_numpy(val.masks.astype("int64"))
crf_rec = record.load("crf_gain")
same_size = crf_rec.data if scale == 1.0 else crf_rec.data["live"]
GROUPS = {crf_gain.BEFORE: tr("trước CRF", "before CRF"), crf_gain.AFTER: tr("sau CRF", "after CRF")}
METRICS = {"val_boundary_f1": tr("điểm F trên biên", "boundary F"), "val_miou": "mIoU"}


def recorded(metric, part):
    """Per-seed values of ``metric`` in one part of the record (the full protocol, or its "live" entry)."""
    return part["groups"] if metric == "val_boundary_f1" else part["miou"]["groups"]


rows = [
    {
        tr("độ đo", "metric"): label,
        tr("nhóm", "group"): name,
        tr("chạy trực tiếp", "live run"): record.format_number(live[metric][group]),
        tr("đã ghi, cùng cỡ", "recorded, same size"): record.format_mean_std(recorded(metric, same_size)[group]),
        tr("đã ghi, giao thức đầy đủ", "recorded, full protocol"): record.format_mean_std(
            recorded(metric, crf_rec.data)[group]
        ),
    }
    for metric, label in METRICS.items()
    for group, name in GROUPS.items()
]
size, full = crf_gain.CLAIM.config(scale), crf_rec.config
print(
    tr(
        f"Chạy trực tiếp: hạt giống 0, {size['train_count']} ảnh huấn luyện, {size['epochs']} epoch. "
        f"Giao thức đầy đủ: {full['train_count']} ảnh, {full['epochs']} epoch, hạt giống {crf_rec.data['seeds']}. "
        f"Cả hai: {len(val)} ảnh kiểm định.",
        f"Live run: seed 0, {size['train_count']} training images, {size['epochs']} epochs. "
        f"Full protocol: {full['train_count']} images, {full['epochs']} epochs, seeds {crf_rec.data['seeds']}. "
        f"Both: {len(val)} validation images.",
    )
)
print(pd.DataFrame(rows).to_string(index=False))
print()
print(tr("Điểm F trên biên —", "Boundary F —"), crf_rec.verdict())
gain_f = crf_rec.data["paired_gain"]["values"]
print(
    tr(
        f"  mức tăng theo từng hạt giống (sau − trước): {record.format_mean_std(gain_f)}",
        f"  gain per seed (after − before): {record.format_mean_std(gain_f)}",
    )
)
miou = crf_rec.data["miou"]
gain_m, t_m = miou["paired_gain"]["values"], record.format_number(miou["t"], 1)
spread = record.format_number(statistics.stdev(miou["groups"][crf_gain.BEFORE]), 3)
up = sum(g > 0 for g in gain_m)
if miou["t"] >= record.T_THRESHOLD:
    print(
        tr(
            f"mIoU — Welch t = {t_m} >= 2: CRF cũng nâng mIoU một cách đo được "
            f"(mức tăng theo từng hạt giống {record.format_mean_std(gain_m)}).",
            f"mIoU — Welch t = {t_m} >= 2: the CRF also raises mIoU measurably "
            f"(gain per seed {record.format_mean_std(gain_m)}).",
        )
    )
else:
    print(
        tr(
            f"mIoU — Welch t = {t_m} < 2 (coi hai nhóm là độc lập): theo quy tắc của khoá học, "
            "không đo được khác biệt về mIoU giữa hai nhóm. "
            f"CRF nâng mIoU ở {up}/{len(gain_m)} hạt giống, mức tăng {record.format_mean_std(gain_m)}, "
            f"trong khi mIoU của chính mô hình (trước CRF) dao động với độ lệch chuẩn {spread} giữa các hạt giống.",
            f"mIoU — Welch t = {t_m} < 2 (the two groups treated as independent): by the course's rule, "
            "no measurable difference in mIoU between the groups. "
            f"The CRF raised mIoU on {up}/{len(gain_m)} seeds, by {record.format_mean_std(gain_m)}, "
            f"while the model's own mIoU (before the CRF) varies with a standard deviation of {spread} across seeds.",
        )
    )
print()
print(
    tr(
        "So sánh ghép cặp (cùng một mạng trước và sau CRF, từng hạt giống; t ghép cặp = trung bình / (độ lệch chuẩn / √n)):",
        "Paired comparison (the same network before and after the CRF, seed by seed; paired t = mean / (std / √n)):",
    )
)
for metric, label in METRICS.items():
    before, after = (recorded(metric, crf_rec.data)[g] for g in (crf_gain.BEFORE, crf_gain.AFTER))
    diffs = [a - b for a, b in zip(after, before)]
    t_p = record.format_number(record.paired_t(after, before), 1)
    n_up = sum(d > 0 for d in diffs)
    print(
        tr(
            f"  {label}: sau − trước = {record.format_mean_std(diffs)}, cao hơn ở {n_up}/{len(diffs)} hạt giống, "
            f"t ghép cặp = {t_p}",
            f"  {label}: after − before = {record.format_mean_std(diffs)}, higher on {n_up}/{len(diffs)} seeds, "
            f"paired t = {t_p}",
        )
    )

# %%
parts = [(tr("giao thức đầy đủ", "full protocol"), crf_rec.data)]
if scale != 1.0:
    parts.append((tr("cỡ chạy trực tiếp", "live size"), crf_rec.data["live"]))
fig, axes = plt.subplots(1, 2, figsize=(9, 3.8))
for ax, (metric, label) in zip(axes, METRICS.items()):
    ticks, top = [], 0.0
    for j, (part_name, part) in enumerate(parts):
        values, x = recorded(metric, part), [3 * j, 3 * j + 1]
        means = [statistics.fmean(values[g]) for g in GROUPS]
        stds = [statistics.stdev(values[g]) for g in GROUPS]
        ax.bar(x, means, yerr=stds, capsize=4, width=0.6, color=["0.8", "C0"], alpha=1.0 if j == 0 else 0.5,
               label=tr("đã ghi: trung bình ± độ lệch chuẩn", "recorded: mean ± std") if j == 0 else None)  # fmt: skip
        for k, (a, b) in enumerate(zip(values[crf_gain.BEFORE], values[crf_gain.AFTER])):
            ax.plot(x, [a, b], color="k", lw=0.8, marker="o", ms=3,
                    label=tr("một hạt giống đã ghi", "one recorded seed") if j == k == 0 else None)  # fmt: skip
        t = record.welch_t(values[crf_gain.AFTER], values[crf_gain.BEFORE])
        ax.annotate(f"{part_name}\nWelch t = {record.format_number(t, 1)}", (3 * j + 0.5, -0.2),
                    xycoords=("data", "axes fraction"), ha="center", va="top", fontsize=8)  # fmt: skip
        ticks += x
        top = max(top, max(max(v) for v in values.values()))
    ax.plot(ticks[-2:], [live[metric][g] for g in GROUPS], "D", mfc="none", mec="C3", mew=1.5, ms=8,
            label=tr("chạy trực tiếp (hạt giống 0)", "live run (seed 0)"))  # fmt: skip
    ax.set_xticks(ticks, [tr("trước", "before"), tr("sau", "after")] * len(parts), fontsize=8)
    ax.set_ylim(0, 1.4 * top)
    ax.set_title(label, fontsize=10)
axes[0].set_ylabel(tr("giá trị trên tập kiểm định", "validation value"))
axes[0].legend(fontsize=7, loc="upper left")
fig.suptitle(
    tr("DeepLabV3 thô (OS 16) trước / sau CRF", "coarse DeepLabV3 (OS 16) before / after the CRF"), fontsize=10
)
fig.tight_layout()

# %% [markdown] lang="vi"
# Hình trên: mỗi cột là trung bình qua các hạt giống đã ghi (thanh lỗi: một độ lệch chuẩn), mỗi đường nối một hạt giống trước và sau CRF; cặp cột bên trái là giao thức đầy đủ, cặp nhạt bên phải (khi chạy trên CPU) là các lần chạy đã ghi cùng cỡ với lần chạy trực tiếp, và hình thoi đỏ là lần chạy trực tiếp. Hai đồ thị con có thang đo riêng, cả hai bắt đầu từ 0. Các dòng "Welch t" in ở trên áp dụng quy tắc của khoá học như thể "trước" và "sau" là hai nhóm độc lập. Nhưng thiết kế ở đây là ghép cặp: mỗi hạt giống cho **một** mạng, được chấm hai lần, nên độ chênh giữa các hạt giống (mạng này tốt hơn mạng kia) có mặt trong cả hai nhóm và không liên quan đến CRF. Phép so sánh ghép cặp (các dòng cuối, `record.paired_t`) loại phần đó đi bằng cách lấy hiệu sau − trước trong từng hạt giống: đó là phép so sánh nên đọc, với cùng ngưỡng 2. Với mIoU, nó cho thấy điều mà Welch t không thấy: trong bản ghi, CRF nâng mIoU ở mọi hạt giống, một mức tăng nhỏ nhưng đều so với độ dao động của chính nó giữa các hạt giống; còn mIoU của các mạng dao động giữa các hạt giống nhiều hơn mức tăng đó, nên hai nhóm đặt cạnh nhau trông như chồng lên nhau.
#
# CRF không học gì thêm, nó chỉ dùng lại ảnh gốc, nên điều ta mong đợi là biên được cải thiện rõ hơn mIoU: CRF dời các đường biên hay xoá những vùng nhỏ, nhưng không sửa được một vùng lớn mà mạng đã gán sai lớp hoàn toàn. Phần tăng của điểm F trên biên đến từ đâu? Điểm F là trung bình điều hoà của **độ chuẩn xác** (*precision*: tỉ lệ điểm biên dự đoán nằm gần một biên thật) và **độ thu hồi** (*recall*: tỉ lệ điểm biên thật có một biên dự đoán ở gần). Ô dưới tách hai phần đó cho lần chạy trực tiếp và vẽ vài ảnh kiểm định.

# %% [markdown] lang="en"
# The figure above: each bar is the mean over the recorded seeds (error bar: one standard deviation), each line joins one seed before and after the CRF; the left pair of bars is the full protocol, the pale right pair (on a CPU) the recorded runs of the live run's size, and the red diamonds are the live run. The two panels have their own scales, both starting at 0. The "Welch t" lines printed above apply the course's rule as if "before" and "after" were two independent groups. The design here is paired: each seed gives **one** network, scored twice, so the seed-to-seed spread (one network being better than another) is present in both groups and has nothing to do with the CRF. The paired comparison (the last lines, `record.paired_t`) removes it by taking after − before within each seed: that is the comparison to read, with the same threshold of 2. For mIoU it shows what Welch's t misses: in the record the CRF raised mIoU on every seed, by a gain that is small but steady compared with its own spread across seeds, while the networks' mIoU varies across seeds by more than that gain, so the two groups side by side look as if they overlap.
#
# The CRF learns nothing new, it only reuses the original image, so what we expect is that boundaries improve more clearly than mIoU: the CRF moves boundaries or removes small regions, but cannot fix a large region the network labelled entirely wrong. Where does the boundary-F gain come from? The F-score is the harmonic mean of **precision** (the share of predicted boundary pixels near a true boundary) and **recall** (the share of true boundary pixels with a predicted boundary nearby). The cell below separates the two for the live run and draws a few validation images.

# %%
pr = {
    group: crf_gain.boundary_precision_recall(p.argmax(1), masks)
    for group, p in ((crf_gain.BEFORE, probs), (crf_gain.AFTER, refined_probs))
}
print(
    pd.DataFrame(
        {
            tr("độ chuẩn xác của biên", "boundary precision"): [record.format_number(pr[g][0]) for g in GROUPS],
            tr("độ thu hồi của biên", "boundary recall"): [record.format_number(pr[g][1]) for g in GROUPS],
        },
        index=list(GROUPS.values()),
    ).to_string()
)
d_precision = pr[crf_gain.AFTER][0] - pr[crf_gain.BEFORE][0]
d_recall = pr[crf_gain.AFTER][1] - pr[crf_gain.BEFORE][1]
if d_precision > abs(d_recall):
    print(
        tr(
            "Độ chuẩn xác tăng nhiều hơn độ thu hồi: phần lớn mức tăng đến từ việc xoá các biên thừa "
            "(những vùng nhỏ bị gán sai mà CRF nhập vào vùng bên cạnh), phần nhỏ hơn từ các biên thật được tìm lại.",
            "Precision rises more than recall: most of the gain comes from removing spurious boundaries "
            "(small wrongly labelled regions that the CRF merges into their neighbours), less from recovering true ones.",
        )
    )
else:
    print(
        tr(
            "Độ thu hồi thay đổi ít nhất là bằng độ chuẩn xác: CRF không chỉ xoá biên thừa mà còn dời biên về gần biên thật.",
            "Recall changes at least as much as precision: the CRF does not only remove spurious boundaries, "
            "it also moves boundaries closer to the true ones.",
        )
    )

SHOW = [0, 1, 2]
fig, axes = plt.subplots(len(SHOW), 4, figsize=(7.5, 6.0))
columns = [
    tr("ảnh", "image"),
    tr("nhãn thật", "ground truth"),
    tr("trước CRF", "before CRF"),
    tr("sau CRF", "after CRF"),
]
for row, k in enumerate(SHOW):
    before_k, after_k = probs[k].argmax(0), refined_probs[k].argmax(0)
    shown = [val.images[k], masks[k], before_k, after_k]
    notes = ["", "", metrics.boundary_f1(before_k, masks[k]), metrics.boundary_f1(after_k, masks[k])]
    for col, img in enumerate(shown):
        ax = axes[row, col]
        ax.imshow(img if col == 0 else viz.colorize(img, val.palette))
        ax.set_xticks([])
        ax.set_yticks([])
        if row == 0:
            ax.set_title(columns[col], fontsize=9)
        if notes[col] != "":
            ax.set_xlabel(tr("F biên ", "boundary F ") + record.format_number(notes[col], 2), fontsize=8)
fig.tight_layout()

# %% [markdown] lang="vi"
# Trong các ví dụ ở trên (lần chạy trên CPU), dự đoán trước CRF là những mảng tròn trịa với biên trơn (nội suy song tuyến từ bản đồ $4 \times 4$), có cả vài vùng nhỏ sai lớp; sau CRF các vùng nhỏ đó biến mất vào vùng bên cạnh, còn các biên còn lại trở nên lởm chởm: chúng bám theo các thay đổi độ sáng của vân chứ không chỉ theo cạnh thật của vùng.
#
# Ba điều cần nói rõ. (1) Tham số CRF (`crf_gain.CRF_PARAMS`: $\theta_\alpha = 10$ thay vì 80 vì ảnh chỉ rộng 64 điểm ảnh, $w_1 = 5$, $\theta_\beta = 13$, $w_2 = 3$, $\theta_\gamma = 3$, 5 vòng lặp) được chọn bằng tay trên ảnh của tập huấn luyện, không phải trên tập kiểm định, và giữ nguyên cho mọi hạt giống. (2) Ảnh ghép là ảnh xám (R = G = B), nên nhân song phương chỉ so được độ sáng: với ba kênh bằng nhau, $\theta_\beta = 13$ ứng với một hiệu độ sáng $13/\sqrt 3 \approx 7{,}5$ mức xám. Mỗi vùng có độ sáng và độ tương phản riêng (xem data/README.md), nên giữa hai vùng thường có một bước nhảy độ sáng, nhưng một vân (gạch, cỏ, sỏi...) cũng có nhiều mức xám bên trong một vùng: đúng loại dữ liệu mà giả thiết "màu gần nhau thì cùng nhãn" yếu nhất; với $\theta_\alpha$ lớn, CRF có thể làm hại (hãy thử `crf_gain.refine(outputs["model"], val, crf_params={"theta_alpha": 80.0})`). (3) Thí nghiệm đo CRF sau một mạng thô và yếu (xem mIoU trong bảng); nó không cho biết CRF còn giúp được bao nhiêu sau một mạng mạnh.

# %% [markdown] lang="en"
# In the examples above (the run on a CPU), the predictions before the CRF are rounded blobs with smooth boundaries (bilinear interpolation from the $4 \times 4$ map), including a few small regions of a wrong class; after the CRF those small regions vanish into their neighbours, and the remaining boundaries turn ragged: they follow the brightness changes of the texture, not only the true edge of the region.
#
# Three things to say plainly. (1) The CRF parameters (`crf_gain.CRF_PARAMS`: $\theta_\alpha = 10$ instead of 80 because the images are only 64 pixels wide, $w_1 = 5$, $\theta_\beta = 13$, $w_2 = 3$, $\theta_\gamma = 3$, 5 iterations) were picked by hand on training images, not on the validation set, and are the same for every seed. (2) The mosaics are grey (R = G = B), so the bilateral kernel only compares brightness: with three equal channels, $\theta_\beta = 13$ amounts to a brightness difference of $13/\sqrt 3 \approx 7.5$ grey levels. Each region has its own brightness and contrast (see data/README.md), so there is often a step in brightness between two regions, but a texture (brick, grass, gravel...) also has many grey levels inside one region: exactly the kind of data where the assumption "similar colour, same label" is weakest; with a large $\theta_\alpha$ the CRF can hurt (try `crf_gain.refine(outputs["model"], val, crf_params={"theta_alpha": 80.0})`). (3) The experiment measures the CRF after a coarse, weak network (see the mIoU in the table); it does not tell how much a CRF still adds after a strong one.

# %% [markdown] lang="vi"
# ## 7. Tự vặn các tham số
#
# Bộ khám phá dưới đây chạy lại CRF (đường nhanh) trên ảnh chiếc chén mỗi khi bạn thả một thanh trượt: năm tham số của thế năng cặp và số vòng lặp. Vài điều nên thử: đặt `bilateral_weight = 0` (chỉ còn làm mượt, biên trở lại hình elip co lại); giảm `theta_beta` (chỉ màu rất giống mới "nói chuyện" với nhau: kết quả lốm đốm); tăng `theta_alpha` (thông điệp đi xa hơn); tăng số vòng lặp (thường hội tụ sau 5–10 vòng). Khi chạy không có giao diện (nbval, bản dựng), ô này vẽ một lưới tĩnh thay đổi từng tham số một.

# %% [markdown] lang="en"
# ## 7. Turn the knobs yourself
#
# The explorer below reruns the CRF (fast path) on the cup photo whenever you release a slider: the five parameters of the pairwise potential and the number of iterations. Things to try: set `bilateral_weight = 0` (only smoothing is left, the boundary goes back to a shrunken ellipse); lower `theta_beta` (only very similar colours "talk" to each other: a speckled result); raise `theta_alpha` (messages travel further); raise the iteration count (it usually converges after 5–10). Without a front end (nbval, the build) the cell draws a static grid that changes one parameter at a time.

# %%
explore_photo = small_photo("coffee", 96)
explore_prior = crf.ellipse_prior(*explore_photo.shape[:2], center=(0.45, 0.5), radii=(0.4, 0.33))


def explore(
    bilateral_weight=5.0, theta_alpha=40.0, theta_beta=20.0, gaussian_weight=3.0, theta_gamma=3.0, iterations=5
):
    out = crf.dense_crf(
        explore_photo,
        explore_prior,
        iterations=iterations,
        bilateral_weight=bilateral_weight,
        theta_alpha=theta_alpha,
        theta_beta=theta_beta,
        gaussian_weight=gaussian_weight,
        theta_gamma=theta_gamma,
        method="fast",
    )
    show_refinement(explore_photo, explore_prior, out)
    plt.show()


if viz.widgets_enabled():
    import ipywidgets as widgets

    def slider(value, low, high, step, description):
        return widgets.FloatSlider(
            value=value, min=low, max=high, step=step, description=description, continuous_update=False
        )

    widgets.interact(
        explore,
        bilateral_weight=slider(5.0, 0.0, 30.0, 1.0, "w1"),
        theta_alpha=slider(40.0, 2.0, 160.0, 2.0, "θα"),
        theta_beta=slider(20.0, 1.0, 80.0, 1.0, "θβ"),
        gaussian_weight=slider(3.0, 0.0, 20.0, 1.0, "w2"),
        theta_gamma=slider(3.0, 0.5, 20.0, 0.5, "θγ"),
        iterations=widgets.IntSlider(
            value=5, min=0, max=20, description=tr("vòng lặp", "iterations"), continuous_update=False
        ),
    )
else:
    variants = [
        ("w1 = 0", {"bilateral_weight": 0.0}),
        ("w1 = 20", {"bilateral_weight": 20.0}),
        ("θβ = 5", {"theta_beta": 5.0}),
        ("θβ = 60", {"theta_beta": 60.0}),
        ("θα = 10", {"theta_alpha": 10.0}),
        (tr("1 vòng lặp", "1 iteration"), {"iterations": 1}),
    ]
    base = dict(
        bilateral_weight=5.0, theta_alpha=40.0, theta_beta=20.0, gaussian_weight=3.0, theta_gamma=3.0, iterations=5
    )
    fig, axes = plt.subplots(1, len(variants), figsize=(12, 1.9))
    for ax, (title, change) in zip(axes, variants):
        out = crf.dense_crf(explore_photo, explore_prior, method="fast", **{**base, **change})
        ax.imshow(explore_photo)
        ax.contour(out.argmax(0), [0.5], colors="red", linewidths=1)
        ax.set_title(title, fontsize=8)
        ax.set_axis_off()
    fig.tight_layout()

# %% [markdown] lang="vi"
# ## Ghi nhớ
#
# - CRF kết nối đầy đủ = thế năng đơn từ mạng ($-\log P$) + thế năng cặp Potts với hai nhân Gauss: song phương (vị trí + màu, kéo biên về cạnh ảnh) và Gauss (vị trí, xoá đốm nhỏ).
# - Suy luận trường trung bình là bốn bước lặp lại: truyền thông điệp (lọc Gauss), biến đổi tương thích, cập nhật cục bộ, chuẩn hoá softmax. Với Potts, dạng $-w\tilde Q(l)$ của `pydensecrf` tương đương $w\sum_{l'\ne l}\tilde Q(l')$ sau softmax.
# - Đường chính xác ($N\times N$) dễ hiểu nhưng $O(N^2)$; lưới permutohedral xấp xỉ cùng phép lọc trong $O(N)$ và là thứ `pydensecrf` dùng — đường nhanh của ta khớp với nó đến sai số làm tròn.
# - CRF chỉ biết màu và vị trí: nó giúp khi biên của mạng thô mà biên màu trong ảnh rõ; nó có thể làm hại khi các vùng khác lớp có màu giống nhau hoặc khi bên trong một vùng có vân nhiều mức sáng. Trong thí nghiệm 5 hạt giống của mục 6, trước và sau CRF là cùng một mạng, nên phép so sánh cần đọc là so sánh ghép cặp theo từng hạt giống (in ở đó, cạnh các dòng Welch t vốn coi hai nhóm là độc lập). Tham số phải dò theo dữ liệu và kích thước ảnh, một cái giá mà DeepLabv3 không còn phải trả: không có CRF, nó đã vượt các phiên bản trước có CRF (mục 1; bài báo không nêu chi phí dò tham số là lý do bỏ CRF).
#
# ## Tài liệu tham khảo
#
# - P. Krähenbühl, V. Koltun. *Efficient Inference in Fully Connected CRFs with Gaussian Edge Potentials.* NIPS 2011, arXiv 1210.5644.
# - A. Adams, J. Baek, M. A. Davis. *Fast High-Dimensional Filtering Using the Permutohedral Lattice.* Eurographics 2010.
# - L.-C. Chen và cộng sự. *Semantic Image Segmentation with Deep Convolutional Nets and Fully Connected CRFs* (DeepLab v1), arXiv 1412.7062; *DeepLab: ... Atrous Convolution, and Fully Connected CRFs* (v2), arXiv 1606.00915; *Rethinking Atrous Convolution for Semantic Image Segmentation* (v3), arXiv 1706.05587; DeepLabv3+, arXiv 1802.02611.
# - S. Zheng và cộng sự. *Conditional Random Fields as Recurrent Neural Networks* (CRF-RNN), arXiv 1502.03240.
# - M. T. T. Teichmann, R. Cipolla. *Convolutional CRFs for Semantic Segmentation* (ConvCRF), arXiv 1805.04777.
# - `pydensecrf` (bộ bọc Python của mã C++ của Krähenbühl), gói PyPI `pydensecrf2`.

# %% [markdown] lang="en"
# ## Key takeaways
#
# - Fully connected CRF = the network's unary ($-\log P$) + a Potts pairwise term with two Gaussian kernels: bilateral (position + colour, pulls boundaries onto image edges) and Gaussian (position, removes small specks).
# - Mean-field inference is four steps repeated: message passing (Gaussian filtering), compatibility transform, local update, softmax normalisation. With Potts, `pydensecrf`'s form $-w\tilde Q(l)$ equals $w\sum_{l'\ne l}\tilde Q(l')$ after the softmax.
# - The exact path ($N\times N$) is easy to follow but $O(N^2)$; the permutohedral lattice approximates the same filtering in $O(N)$ and is what `pydensecrf` uses — our fast path matches it to rounding error.
# - The CRF knows only colour and position: it helps when the network's boundaries are coarse and the colour edges in the image are clear; it can hurt when regions of different classes share colours, or when a region's texture spans many brightness levels. In the 5-seed experiment of section 6, before and after the CRF are the same network, so the comparison to read is the paired, seed-by-seed one (printed there, next to the Welch t lines that treat the two groups as independent). Its parameters must be tuned to the data and the image size, a cost DeepLabv3 no longer pays: without a CRF it already beats the earlier versions that used one (section 1; the paper does not give the tuning cost as its reason).
#
# ## References
#
# - P. Krähenbühl, V. Koltun. *Efficient Inference in Fully Connected CRFs with Gaussian Edge Potentials.* NIPS 2011, arXiv 1210.5644.
# - A. Adams, J. Baek, M. A. Davis. *Fast High-Dimensional Filtering Using the Permutohedral Lattice.* Eurographics 2010.
# - L.-C. Chen et al. *Semantic Image Segmentation with Deep Convolutional Nets and Fully Connected CRFs* (DeepLab v1), arXiv 1412.7062; *DeepLab: ... Atrous Convolution, and Fully Connected CRFs* (v2), arXiv 1606.00915; *Rethinking Atrous Convolution for Semantic Image Segmentation* (v3), arXiv 1706.05587; DeepLabv3+, arXiv 1802.02611.
# - S. Zheng et al. *Conditional Random Fields as Recurrent Neural Networks* (CRF-RNN), arXiv 1502.03240.
# - M. T. T. Teichmann, R. Cipolla. *Convolutional CRFs for Semantic Segmentation* (ConvCRF), arXiv 1805.04777.
# - `pydensecrf` (the Python wrapper of Krähenbühl's C++ code), PyPI package `pydensecrf2`.
